"""The demo ends today (issue 12): its simulated days are the ones before today, everything it
books is at or before the real time it started at, and its store is then handed to the real
clock, so `jifen serve` on it carries on instead of closing months at once or expiring points."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.app import SimulatedClock, business_date, open_alliance
from jifen.app.clock import day_start
from jifen.demo import DEMO_SECRET, open_demo, run_demo, timeline


@pytest.mark.parametrize(
    ("now", "first", "last", "quiet"),
    [
        # 18:51 China time: yesterday's bills are out, the demo's days end yesterday
        (datetime(2026, 12, 3, 10, 51, tzinfo=UTC), date(2026, 8, 5), date(2026, 12, 2), False),
        # 09:00 China time: yesterday's bills are not out; yesterday is the quiet day
        (datetime(2026, 12, 3, 1, 0, tzinfo=UTC), date(2026, 8, 4), date(2026, 12, 1), True),
        # 00:10 China time on 4 December (3 December in UTC): today is the 4th, the 3rd quiet
        (datetime(2026, 12, 3, 16, 10, tzinfo=UTC), date(2026, 8, 5), date(2026, 12, 2), True),
    ],
)
def test_the_simulated_days_end_before_today(
    now: datetime, first: date, last: date, quiet: bool
) -> None:
    when = timeline(now, 120)
    assert business_date(when.start) == first
    assert first + timedelta(days=119) == last
    assert (when.quiet_close is not None) == quiet
    assert when.ends <= now and business_date(when.ends) == business_date(now)


@given(
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(1, 400),
)
def test_the_demo_never_ends_after_it_started_and_leaves_no_day_before_today_open(
    now: datetime, days: int
) -> None:
    when = timeline(now, days)
    assert when.ends <= now
    assert business_date(when.ends) == business_date(now)  # it ends today
    # the last simulated day's business ends with its reconciliation the next morning
    last_day = business_date(when.start) + timedelta(days=days - 1)
    assert when.last_reconciliation == day_start(last_day + timedelta(days=1)) + timedelta(
        hours=10, minutes=30
    )
    assert when.last_reconciliation <= now


def test_a_small_demo_is_handed_to_the_real_clock_with_every_day_before_today_closed(
    db_url: str,
) -> None:
    now = datetime.now(UTC)
    when = timeline(now, 12)
    ctx = open_demo(db_url, when)
    summary = run_demo(ctx, when, members=8, orders=40, seed=3, real_now=lambda: now)
    ctx.engine.dispose()
    assert summary.report is not None and summary.report.ok
    assert summary.closed_days == 12 + (1 if when.quiet_close else 0)
    again = open_alliance(db_url, secret=DEMO_SECRET)
    assert not isinstance(again.clock, SimulatedClock)  # the real clock, from now on
    from jifen.jobs import run_jobs

    assert run_jobs(again) == []  # nothing left to close: the last day closed is yesterday
    again.engine.dispose()
