"""Runs the jobs on a schedule inside ``jifen serve``: a daemon thread with a bounded wait.

Every ``interval_s`` it closes the business days that are over and releases and expires what is
due. With a payment provider, a ``MoneyLoop`` beside it takes the money path a step on every few
seconds (due splits sent, refunds and payouts followed) and reconciles each day once its bills
are out.
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
from datetime import date

from jifen.app.context import Context
from jifen.funds import Funds, MoneyRun, run_money
from jifen.funds.reconciliation import MAX_DAYS_PER_PASS, last_day_with_bills, reconcile_due
from jifen.jobs.daily import run_jobs
from jifen.payments import ReconciliationStatus
from jifen.webhooks import PassResult, deliver_due

log = logging.getLogger("jifen.jobs")


@dataclass(frozen=True, slots=True)
class JobRun:
    """What an observer learns of one scheduled run."""

    ok: bool
    seconds: float
    days_closed: int  # business days this run closed (0 if it failed or none was due)


class _Every:
    """``run_once`` every ``interval_s`` in a daemon thread, until ``stop``; ``run_once`` never
    raises (a failure is logged and the next run simply continues: every step is idempotent)."""

    def __init__(self, interval_s: float, name: str) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def run_once(self) -> object:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval_s)


class Scheduler(_Every):
    def __init__(self, ctx: Context, interval_s: float) -> None:
        super().__init__(interval_s, "jifen-jobs")
        self.ctx = ctx
        self.observers: list[Callable[[JobRun], None]] = []
        """Called after every run, from the scheduler's thread."""

    def run_once(self) -> JobRun:
        """One run: close what is due, log each day, tell the observers. Never raises."""
        started = time.perf_counter()
        closed: list[str] = []
        try:
            for day in run_jobs(self.ctx):
                closed += [] if day.skipped else [day.business_date.isoformat()]
                log.log(
                    logging.INFO if day.reserve_ok else logging.ERROR,
                    "closed business day",
                    extra={
                        "business_date": day.business_date.isoformat(),
                        "reserve_ok": day.reserve_ok,
                    },
                )
            run = JobRun(ok=True, seconds=time.perf_counter() - started, days_closed=len(closed))
            log.info(  # every run, so a log shows the schedule at work and what each run closed
                "jobs run",
                extra={
                    "days": closed,
                    "duration_ms": round(run.seconds * 1000, 1),
                    "outcome": "ok",
                },
            )
        except Exception:
            log.exception(
                "scheduled jobs failed; retrying at the next tick", extra={"outcome": "failed"}
            )
            run = JobRun(ok=False, seconds=time.perf_counter() - started, days_closed=0)
        for observer in self.observers:
            try:
                observer(run)
            except Exception:  # a broken observer must not stop the schedule
                log.exception("a job observer failed")
        return run


class MoneyLoop(_Every):
    """The money path's passes (``jifen.funds.run_money``) every ``interval_s`` in a daemon
    thread: a split is due a minute after payment, so this runs far more often than the jobs.
    A failed pass is logged and the next one simply continues (every step is idempotent)."""

    def __init__(self, ctx: Context, funds: Funds, interval_s: float) -> None:
        super().__init__(interval_s, "jifen-money")
        self.ctx, self.funds = ctx, funds
        self._reconciled_through: date | None = None
        """The last day with bills that the job has caught up to: until the next day's bills
        are out there is nothing to reconcile, so the passes in between read nothing for it."""

    def run_once(self) -> MoneyRun | None:
        """One pass, then the days whose bills are out are reconciled; never raises."""
        try:
            run = run_money(self.ctx, self.funds)
            self._reconcile()
        except Exception:
            log.exception("a money pass failed; the next one continues")
            return None
        if run.splits_sent or run.splits_finished or run.applied:
            log.info(
                "money path",
                extra={"splits_sent": run.splits_sent, "refunds_open": run.refunds_open},
            )
        return run

    def _reconcile(self) -> None:
        through = last_day_with_bills(self.ctx.clock.now())
        if through == self._reconciled_through:
            return
        reports = reconcile_due(self.ctx, self.funds, through)
        for report in reports:
            breaks = len(report.items) - len(report.of(ReconciliationStatus.MATCHED))
            log.log(
                logging.WARNING if breaks else logging.INFO,
                "reconciled a day",
                extra={"bill_date": report.bill_date.isoformat(), "breaks": breaks},
            )
        if len(reports) < MAX_DAYS_PER_PASS:  # caught up; else the next pass goes on
            self._reconciled_through = through


class WebhookLoop(_Every):
    """The webhook dispatcher's passes (``jifen.webhooks.deliver_due``) every ``interval_s``
    in a daemon thread: an event waits for the next pass, a failed delivery for its backoff.
    A failed pass is logged and the next one continues (what was not recorded stays due)."""

    def __init__(self, ctx: Context, interval_s: float) -> None:
        super().__init__(interval_s, "jifen-webhooks")
        self.ctx = ctx

    def run_once(self) -> PassResult | None:
        try:
            result = deliver_due(self.ctx)
        except Exception:
            log.exception("a webhook pass failed; the next one continues")
            return None
        if result.attempted:
            log.info(
                "webhook deliveries",
                extra={
                    "delivered": result.delivered,
                    "retrying": result.retrying,
                    "failed": result.failed,
                },
            )
        return result
