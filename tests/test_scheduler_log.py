"""Each scheduled run of the daily jobs is logged with the business days it closed (issue 12):
an operator reading `jifen serve`'s log sees the schedule at work, not only when a day closes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from jifen.app import SimulatedClock, open_alliance
from jifen.jobs.scheduler import Scheduler
from jifen.ledger import Earn

T = datetime(2026, 3, 2, 2, tzinfo=UTC)  # 10:00 Shanghai


def test_every_run_is_logged_with_the_days_it_closed(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = open_alliance(db_url, secret="scheduler-log", clock=SimulatedClock(T))
    ctx.ledger.open_merchant("tea", T)
    ctx.ledger.submit(
        Earn("e1", "ana", "tea", "o1", amount_fen=100, points=1, rule_version=1, paid_at=T,
             release_at=T + timedelta(days=7)),
        T,
    )  # fmt: skip
    ctx.clock.set(T + timedelta(days=2))  # type: ignore[attr-defined]
    scheduler = Scheduler(ctx, 60)
    with caplog.at_level(logging.INFO, logger="jifen.jobs"):
        first, second = scheduler.run_once(), scheduler.run_once()
    ctx.engine.dispose()
    runs = [r for r in caplog.records if r.getMessage() == "jobs run"]
    assert [r.days for r in runs] == [["2026-03-02", "2026-03-03"], []]  # type: ignore[attr-defined]
    assert (first.days_closed, second.days_closed) == (2, 0)
