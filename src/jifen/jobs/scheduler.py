"""Runs the jobs on a schedule inside ``jifen serve``: a daemon thread with a bounded wait.

Every ``interval_s`` it closes the business days that are over and releases and expires what is
due; with a payment provider it also sends due splits, follows refunds and pays payouts.
A failed run is logged and retried at the next tick; because every step is idempotent, a run
interrupted by a restart is simply finished by the next one. Each run is told to ``observers``
(the API's metrics count runs and failures) and logged with structured fields.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jifen.app.context import Context
from jifen.funds import Funds, run_money
from jifen.jobs.daily import run_jobs

log = logging.getLogger("jifen.jobs")


@dataclass(frozen=True, slots=True)
class JobRun:
    """What an observer learns of one scheduled run."""

    ok: bool
    seconds: float
    days_closed: int  # business days this run closed (0 if it failed or none was due)


class Scheduler:
    def __init__(self, ctx: Context, interval_s: float, funds: Funds | None = None) -> None:
        self.ctx = ctx
        self.funds = funds  # with a provider: each run also takes the money path a step on
        self.interval_s = interval_s
        self.observers: list[Callable[[JobRun], None]] = []
        """Called after every run, from the scheduler's thread."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jifen-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def run_once(self) -> JobRun:
        """One run: close what is due, log each day, tell the observers. Never raises."""
        started = time.perf_counter()
        closed = 0
        try:
            for day in run_jobs(self.ctx):
                closed += 0 if day.skipped else 1
                log.log(
                    logging.INFO if day.reserve_ok else logging.ERROR,
                    "closed business day",
                    extra={"business_date": day.business_date.isoformat(),
                           "reserve_ok": day.reserve_ok},
                )  # fmt: skip
            if self.funds is not None:
                money = run_money(self.ctx, self.funds)
                log.info("money path", extra={"splits_sent": money.splits_sent,
                                              "refunds_open": money.refunds_open})  # fmt: skip
            run = JobRun(ok=True, seconds=time.perf_counter() - started, days_closed=closed)
        except Exception:
            log.exception("scheduled jobs failed; retrying at the next tick",
                          extra={"outcome": "failed"})  # fmt: skip
            run = JobRun(ok=False, seconds=time.perf_counter() - started, days_closed=0)
        for observer in self.observers:
            try:
                observer(run)
            except Exception:  # a broken observer must not stop the schedule
                log.exception("a job observer failed")
        return run

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval_s)
