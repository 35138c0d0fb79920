"""Days and months shown to people are Asia/Shanghai and name the last day points are valid;
``expires_at`` is the first instant they are not (issue 8, #18)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from api_server import served
from jifen.alliance.orders import issue_charge_fen
from jifen.app import SimulatedClock, last_valid_day, open_alliance
from jifen.app.clock import day_start
from jifen.jobs import run_jobs
from jifen.ledger import Earn, Release
from jifen.store import tables as t

PAID = datetime(2026, 3, 2, 2, tzinfo=UTC)


def earn(key: str, expires_at: datetime, points: int) -> Earn:
    return Earn(
        key=key, member_id="ana", merchant_id="tea", order_ref=key, amount_fen=points * 100,
        points=points, rule_version=1, paid_at=PAID, release_at=PAID + timedelta(days=1),
        expires_at=expires_at, charge_fen=issue_charge_fen(points, 1200), value_fen_per_point=1,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("expires_at", "day"),
    [
        (datetime(2028, 12, 31, 16, tzinfo=UTC), date(2028, 12, 31)),  # 2029-01-01 00:00 Shanghai
        (datetime(2028, 12, 31, 15, 59, 59, tzinfo=UTC), date(2028, 12, 31)),
        (datetime(2028, 12, 31, 16, 0, 0, 1, tzinfo=UTC), date(2029, 1, 1)),
        (datetime(2026, 9, 30, 16, tzinfo=UTC), date(2026, 9, 30)),
    ],
)
def test_the_last_valid_day_is_the_shanghai_day_before_the_first_expired_instant(
    expires_at: datetime, day: date
) -> None:
    assert last_valid_day(expires_at) == day


def test_liabilities_list_points_under_the_month_of_their_last_valid_day(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        ledger = server.ctx.ledger
        ledger.open_merchant("tea", PAID)
        ledger.submit(earn("dec", datetime(2028, 12, 31, 16, tzinfo=UTC), 300), PAID)  # 31 Dec
        ledger.submit(earn("jan", datetime(2029, 1, 31, 16, tzinfo=UTC), 50), PAID)  # 31 Jan
        ledger.submit(earn("nov", datetime(2028, 11, 30, 16, tzinfo=UTC), 7), PAID)  # 30 Nov
        r = op.get("/v1/reports/liabilities")
    assert r.status_code == 200, r.text
    assert r.json()["by_expiry_month"] == [
        {"month": "2028-11", "points": 7, "value_fen": 7},
        {"month": "2028-12", "points": 300, "value_fen": 300},
        {"month": "2029-01", "points": 50, "value_fen": 50},
    ]


def test_reminders_name_the_points_whose_last_valid_day_is_in_the_next_30_days(
    db_url: str,
) -> None:
    closing = date(2026, 3, 2)
    clock = SimulatedClock(PAID)
    ctx = open_alliance(db_url, secret="s", clock=clock)
    ctx.ledger.open_merchant("tea", PAID)
    lots = {
        "through-d30": day_start(closing + timedelta(days=31)),  # valid through 1 April: remind
        "through-d31": day_start(closing + timedelta(days=32)),  # valid through 2 April: not yet
        "through-d1": day_start(closing + timedelta(days=1)) + timedelta(hours=20),  # 3 March
    }
    ids = {}
    for key, expires_at in lots.items():
        ids[ctx.ledger.submit(earn(key, expires_at, 10), PAID).entry_id] = key
    for lot_id in ids:
        ctx.ledger.submit(Release(f"release:{lot_id}", lot_id), PAID + timedelta(days=1))
    clock.set(PAID + timedelta(days=1))
    (day,) = run_jobs(ctx, closing)
    assert day.reminders == 1
    with ctx.engine.connect() as conn:
        reminder = conn.execute(select(t.reminders)).one()
    assert reminder.business_date == "2026-03-02"
    assert sorted(ids[lot_id] for lot_id, _, _ in json.loads(reminder.detail)) == [
        "through-d1",
        "through-d30",
    ]
    assert reminder.points == 20
    ctx.engine.dispose()
