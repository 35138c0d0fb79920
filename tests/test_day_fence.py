"""The day fence: once a business day is closed nothing can be booked into it, so every money
movement of a closed day is in exactly one statement (issue 8, #16)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from jifen.alliance.orders import issue_charge_fen
from jifen.app import SimulatedClock, open_alliance
from jifen.app.clock import day_start
from jifen.jobs import run_jobs
from jifen.jobs.daily import fence
from jifen.ledger import Earn, Ledger, verify
from jifen.ledger import _tables as t
from jifen.settlement import check_statements

DAY = date(2026, 5, 1)  # a Shanghai business day
NOON = datetime(2026, 5, 1, 4, tzinfo=UTC)  # 12:00 Shanghai on DAY
WRITERS = 24
PER_WRITER = 40


def earn(key: str, member: str, at: datetime, points: int = 100) -> Earn:
    return Earn(
        key=key,
        member_id=member,
        merchant_id="tea",
        order_ref=key,
        amount_fen=points * 100,
        points=points,
        rule_version=1,
        paid_at=at,
        release_at=at + timedelta(days=7),
        expires_at=at + timedelta(days=90),
        charge_fen=issue_charge_fen(points, 1200),
        value_fen_per_point=1,
    )


def lanes(engine: object) -> list[datetime | None]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return list(
            conn.execute(select(t.chains.c.open_from).order_by(t.chains.c.chain_id)).scalars()
        )


def test_a_lane_fenced_in_the_future_books_entries_at_its_open_from(ledger: Ledger) -> None:
    open_from = NOON + timedelta(days=2)
    with ledger.engine.begin() as conn:
        conn.execute(update(t.chains).values(open_from=open_from))
    ledger.open_merchant("tea", NOON)
    receipt = ledger.submit(earn("e1", "ana", NOON), NOON)
    assert receipt.at == open_from
    with ledger.engine.connect() as conn:
        stored = conn.execute(
            select(t.entries.c.at, t.blocks.c.committed_at).join(
                t.blocks,
                (t.blocks.c.chain_id == t.entries.c.chain_id)
                & (t.blocks.c.height == t.entries.c.height),
            )
        ).one()
    assert stored.at == open_from  # booked into the open day ...
    assert stored.committed_at == NOON  # ... while the block keeps the real commit time
    assert ledger.submit(earn("e1", "ana", NOON), NOON).at == open_from  # a replay says so too
    after = open_from + timedelta(hours=1)
    assert ledger.submit(earn("e2", "ana", after), after).at == after  # past the fence: now
    report = verify(ledger.engine)
    assert report.ok, report.findings


def test_closing_a_day_fences_every_lane_and_the_fence_never_moves_back(db_url: str) -> None:
    ctx = open_alliance(db_url, secret="s", clock=SimulatedClock(NOON + timedelta(days=3)))
    assert set(lanes(ctx.engine)) == {None}
    fence(ctx, DAY + timedelta(days=1))
    later = day_start(DAY + timedelta(days=2))
    assert lanes(ctx.engine) == [later] * 16
    fence(ctx, DAY)  # an earlier day: nothing moves back
    assert lanes(ctx.engine) == [later] * 16
    ctx.engine.dispose()


def test_writers_racing_the_close_never_book_into_the_closed_day(db_url: str) -> None:
    """24 writers keep booking orders at a time inside DAY (a clock a little behind, as a till's
    can be) while the day is closed: whatever commits after the fence lands on the next day, and
    every movement of the closed day is in its statement."""
    clock = SimulatedClock(NOON + timedelta(days=1))  # the closing job: DAY is over
    ctx = open_alliance(db_url, secret="s", clock=clock)
    ctx.ledger.open_merchant("tea", NOON)
    ctx.ledger.submit(earn("first", "m0", NOON), NOON)
    late = day_start(DAY + timedelta(days=1)) - timedelta(minutes=1)  # 23:59 on DAY
    closing = threading.Event()
    closed = threading.Event()
    booked: list[datetime] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            closing.wait(timeout=30)
            for i in range(PER_WRITER):
                receipt = ctx.ledger.submit(earn(f"w{n}-{i}", f"m{n}", late), late)
                booked.append(receipt.at)
                if closed.is_set() and i >= 3:
                    break
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    closing.set()
    days = run_jobs(ctx, DAY)
    closed.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    assert [d.business_date for d in days] == [DAY]
    next_day = day_start(DAY + timedelta(days=1))
    assert set(booked) <= {late, next_day}
    (statement,) = days[0].statements
    assert statement.points_issued == 100 * (1 + booked.count(late))
    assert check_statements(ctx.engine) == []
    report = verify(ctx.engine)
    assert report.ok, report.findings
    ctx.engine.dispose()
