"""`jifen verify` checks the statements too: every money movement on a closed business day belongs
to exactly one statement, re-derived from the journal (issue 8, #16)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, update

from jifen.alliance.orders import issue_charge_fen
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.jobs import run_jobs
from jifen.ledger import Earn, Redeem, Release
from jifen.ledger import _tables as lt
from jifen.store import tables as t
from test_cli import jifen

DAY = date(2026, 5, 1)
NOON = datetime(2026, 5, 1, 4, tzinfo=UTC)  # 12:00 Shanghai


def earn(key: str, merchant: str, at: datetime, points: int) -> Earn:
    return Earn(
        key=key, member_id="ana", merchant_id=merchant, order_ref=key, amount_fen=points * 100,
        points=points, rule_version=1, paid_at=at, release_at=at + timedelta(days=1),
        expires_at=at + timedelta(days=90), charge_fen=issue_charge_fen(points, 1200),
        value_fen_per_point=1,
    )  # fmt: skip


@pytest.fixture
def closed_store(db_url: str) -> Iterator[tuple[Context, str]]:
    """Two merchants; DAY (earns at tea) and DAY+1 (a redemption at film) closed; DAY+2 open."""
    clock = SimulatedClock(NOON)
    ctx = open_alliance(db_url, secret="s", clock=clock)
    for merchant in ("tea", "film"):
        ctx.ledger.open_merchant(merchant, NOON)
    lot = ctx.ledger.submit(earn("e1", "tea", NOON, 500), NOON).entry_id
    ctx.ledger.submit(earn("e2", "tea", NOON, 300), NOON)
    clock.set(NOON + timedelta(days=1))
    ctx.ledger.submit(Release("r1", lot), clock.now())
    ctx.ledger.submit(Redeem("x1", "ana", "film", 200, "f1"), clock.now())
    clock.set(NOON + timedelta(days=2))
    assert len(run_jobs(ctx)) == 2
    ctx.ledger.submit(earn("e3", "tea", clock.now(), 100), clock.now())  # a day still open
    yield ctx, db_url
    ctx.engine.dispose()


def findings(db_url: str) -> list[dict[str, object]]:
    result = jifen("verify", "--db", db_url, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == (0 if report["ok"] else 1), result.stderr
    found: list[dict[str, object]] = report["findings"]
    return found


def codes(db_url: str) -> list[tuple[object, ...]]:
    return sorted((f["code"], f["message"]) for f in findings(db_url))


def test_closed_days_whose_statements_match_the_journal_verify(
    closed_store: tuple[Context, str],
) -> None:
    assert findings(closed_store[1]) == []


def test_an_entry_booked_into_a_closed_day_is_a_finding(closed_store: tuple[Context, str]) -> None:
    """What the defect left behind: a day closed early, then a charge booked on it."""
    ctx, db_url = closed_store
    with ctx.writer.begin() as conn:  # a store closed before the day fence existed
        conn.execute(update(lt.chains).values(open_from=None))
    ctx.ledger.submit(earn("late", "tea", NOON + timedelta(hours=2), 1000), NOON)
    (finding,) = findings(db_url)
    assert finding["code"] == "statement.mismatch"
    message = str(finding["message"])
    assert "merchant tea, business day 2026-05-01" in message
    assert "points_issued stored 800, journal 1800" in message
    assert "charges_fen stored 960, journal 2160" in message
    text = jifen("verify", "--db", db_url)
    assert text.returncode == 1
    assert "[statement.mismatch] merchant tea, business day 2026-05-01" in text.stdout


def test_a_missing_an_extra_and_an_altered_statement_are_findings(
    closed_store: tuple[Context, str],
) -> None:
    ctx, db_url = closed_store
    with ctx.writer.begin() as conn:
        conn.execute(
            delete(t.statements).where(
                t.statements.c.merchant_id == "film", t.statements.c.business_date == "2026-05-02"
            )
        )
        conn.execute(
            update(t.statements)
            .where(t.statements.c.merchant_id == "tea")
            .values(net_fen=t.statements.c.net_fen + 1)
        )
        conn.execute(
            insert(t.statements).values(
                merchant_id="film", business_date="2026-05-01", points_issued=0, charges_fen=0,
                points_accepted=0, reimbursements_fen=0, credits_fen=0, adjustments_fen=0,
                net_fen=0, entry_id=None, created_at=NOON,
            )
        )  # fmt: skip
    found = codes(db_url)
    assert [c for c, _ in found] == [
        "statement.extra",
        "statement.mismatch",
        "statement.missing",
        "statement.unsettled",
    ]
    messages = dict(found)
    assert "merchant film, business day 2026-05-01" in str(messages["statement.extra"])
    assert "merchant film, business day 2026-05-02" in str(messages["statement.missing"])
    assert "net_fen stored -959, journal -960" in str(messages["statement.mismatch"])
    assert "merchant tea, business day 2026-05-01" in str(messages["statement.unsettled"])


def test_a_statement_whose_net_never_reached_clearing_is_a_finding(
    closed_store: tuple[Context, str],
) -> None:
    ctx, db_url = closed_store
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.statements).where(t.statements.c.merchant_id == "film").values(entry_id=None)
        )
    ((code, message),) = codes(db_url)
    assert code == "statement.unsettled"
    assert "merchant film, business day 2026-05-02: net 200 fen" in str(message)
