"""Runs the jobs on a schedule inside ``jifen serve``: a daemon thread with a bounded wait.

Every ``interval_s`` it closes the business days that are over and releases and expires what is
due. A failed run is logged and retried at the next tick; because every step is idempotent, a run
interrupted by a restart is simply finished by the next one.
"""

from __future__ import annotations

import logging
import threading

from jifen.alliance.context import Context
from jifen.jobs.daily import run_jobs

log = logging.getLogger("jifen.jobs")


class Scheduler:
    def __init__(self, ctx: Context, interval_s: float) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jifen-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for day in run_jobs(self.ctx):
                    log.info(
                        "closed business day %s (reserve ok: %s)", day.business_date, day.reserve_ok
                    )
            except Exception:
                log.exception("scheduled jobs failed; retrying at the next tick")
            self._stop.wait(self.interval_s)
