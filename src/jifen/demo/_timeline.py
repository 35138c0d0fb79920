"""When the demo's simulated days fall, and how its store is handed to the real clock at the end.

The demo ends today: its simulated days are the ``days`` days before today (China time), so its
clock ends today, no later than the real time it was started at. The last simulated day ends with
the next morning's reconciliation (its bills are out at 10:30 China time); before then, the
simulated days end one day earlier and the demo closes the quiet day in between itself, at
today's midnight, expiring what is due by then. Pure but for ``hand_over``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from jifen.app import Context, business_date, hand_over_to_real_clock
from jifen.app.clock import day_start
from jifen.funds.reconciliation import BILLS_READY

__all__ = ["Timeline", "hand_over", "timeline"]

DAY_OPENS = clock_time(0)  # UTC: 08:00 China time, when each simulated day begins


@dataclass(frozen=True)
class Timeline:
    """When the demo's simulated days fall, from the real time it is started at."""

    start: datetime  # 08:00 China time of the first simulated day
    days: int
    quiet_close: datetime | None
    """00:00 China time today when the simulated days end the day before yesterday (before the
    last one's bills are out): the demo closes yesterday, a day without business, at it."""

    @property
    def last_reconciliation(self) -> datetime:
        """10:30 China time the day after the last simulated day, when its bills are out."""
        return day_start(business_date(self.start) + timedelta(days=self.days)) + BILLS_READY

    @property
    def ends(self) -> datetime:
        """The demo's last moment: the last day's reconciliation the next morning, or the
        closing of the quiet day after it."""
        return self.quiet_close or self.last_reconciliation


def timeline(now: datetime, days: int) -> Timeline:
    """The ``days`` simulated days that end today for a demo started at ``now`` (real time):
    everything the demo books is at or before ``now``, and every day before today is closed."""
    today = business_date(now)
    last = today - timedelta(days=1)
    quiet_close = None
    if now < day_start(today) + BILLS_READY:  # yesterday's bills are not out yet
        last -= timedelta(days=1)
        quiet_close = day_start(today)
    first = last - timedelta(days=days - 1)
    return Timeline(datetime.combine(first, DAY_OPENS, UTC), days, quiet_close)


HAND_OVER_WAIT_S = 180.0
"""How long the demo waits, at most, for real time to pass its last moment (only a demo run in
the first minutes after 10:30 China time, with a tiny --orders, could end ahead of it)."""


def hand_over(ctx: Context, real_now: Callable[[], datetime]) -> None:
    """The store goes over to the real clock: its simulated days end today, so real time goes
    on from here."""
    deadline = time.monotonic() + HAND_OVER_WAIT_S
    while (ahead := ctx.clock.now() - real_now()) > timedelta(0):
        if time.monotonic() > deadline:
            break  # hand_over_to_real_clock refuses it: one line, the store stays simulated
        time.sleep(min(ahead.total_seconds(), 1.0))
    hand_over_to_real_clock(ctx, real_now())
