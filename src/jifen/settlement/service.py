"""Daily settlement and the reserve, on the store: statements per merchant per business day.

Settling a day posts each merchant's net to clearing (one ``Settle`` entry, key
``settle:{date}:{merchant}``, so re-running a day changes nothing) and keeps the statement beside
it; then the reserve is checked against the value of outstanding points.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from jifen.app.clock import business_date, day_bounds, last_valid_day
from jifen.app.context import Context
from jifen.app.paging import Page, after_cursor, check_limit, decode_cursor, encode_cursor
from jifen.ledger import Settle, queries
from jifen.settlement.statement import (
    ExpiryBucket,
    LiabilityReport,
    Movement,
    ReserveStatus,
    Statement,
    breakage_rate_bp,
    statement,
)
from jifen.store import insert_missing
from jifen.store import tables as t
from jifen.webhooks import emit, events

CLOSING_JOB = "daily"
"""The job whose ``job_runs`` rows are the closed business days (written by jifen.jobs)."""


def settle_key(day: date, merchant_id: str) -> str:
    """The settlement entry's idempotency key: one per merchant per day, so a re-run is a replay."""
    return f"settle:{day.isoformat()}:{merchant_id}"


def movements(conn: Connection, day: date) -> list[Movement]:
    """Every merchant money movement and point issue/acceptance booked on ``day`` (Shanghai)."""
    return movements_by_day(conn, *day_bounds(day)).get(day, [])


def movements_by_day(
    conn: Connection, start: datetime, end: datetime
) -> dict[date, list[Movement]]:
    """The movements booked in ``[start, end)``, by the business day each was booked on, summed
    per merchant, entry kind and figure (``queries.merchant_movements``)."""
    sums: dict[tuple[date, str, str, str], int] = defaultdict(int)
    for m in queries.merchant_movements(conn, start, end):
        for figure in ("fen", "points_accepted", "points_issued"):
            if getattr(m, figure):
                sums[business_date(m.at), m.merchant_id, m.kind, figure] += getattr(m, figure)
    found: dict[date, list[Movement]] = defaultdict(list)
    for (day, merchant_id, kind, figure), amount in sorted(sums.items()):
        found[day].append(Movement(merchant_id, kind, **{figure: amount}))
    return dict(found)


def settle_day(ctx: Context, day: date) -> list[Statement]:
    """Statements for ``day`` (which must be over), their settlement entries, stored."""
    with ctx.engine.connect() as conn:
        by_merchant: dict[str, list[Movement]] = defaultdict(list)
        for m in movements(conn, day):
            by_merchant[m.merchant_id].append(m)
    results = []
    for merchant_id in sorted(by_merchant):
        s = statement(merchant_id, day, by_merchant[merchant_id])
        entry_id = None
        if s.net_fen:
            receipt = ctx.ledger.submit(
                Settle(
                    settle_key(day, merchant_id),
                    merchant_id,
                    day.isoformat(),
                    s.net_fen,
                ),
                ctx.clock.now(),
            )
            entry_id = receipt.entry_id
        results.append(_store(ctx, s, entry_id))
    return results


def _store(ctx: Context, s: Statement, entry_id: str | None) -> Statement:
    now = ctx.clock.now()
    row = {
        "merchant_id": s.merchant_id,
        "business_date": s.business_date.isoformat(),
        "points_issued": s.points_issued,
        "charges_fen": s.charges_fen,
        "points_accepted": s.points_accepted,
        "reimbursements_fen": s.reimbursements_fen,
        "credits_fen": s.credits_fen,
        "adjustments_fen": s.adjustments_fen,
        "net_fen": s.net_fen,
        "collected_fen": s.collected_fen,
        "returned_fen": s.returned_fen,
        "entry_id": entry_id,
        "created_at": now,
    }
    closed = events.statement_closed(
        merchant_id=s.merchant_id,
        business_date=s.business_date.isoformat(),
        figures={k: v for k, v in row.items() if k not in ("merchant_id", "business_date",
                                                           "created_at")},
        at=now,
    )  # fmt: skip
    with ctx.writer.begin() as conn:  # the statement and its event, in one transaction
        insert_missing(conn, t.statements, [row])
        emit(conn, [closed])
    return Statement(**{**s.__dict__, "entry_id": entry_id})


def _statement(row: Any) -> Statement:
    return Statement(
        merchant_id=row.merchant_id,
        business_date=date.fromisoformat(row.business_date),
        points_issued=row.points_issued,
        charges_fen=row.charges_fen,
        points_accepted=row.points_accepted,
        reimbursements_fen=row.reimbursements_fen,
        credits_fen=row.credits_fen,
        adjustments_fen=row.adjustments_fen,
        net_fen=row.net_fen,
        collected_fen=row.collected_fen,
        returned_fen=row.returned_fen,
        entry_id=row.entry_id,
    )


def statements(
    ctx: Context, merchant_id: str | None, *, cursor: str | None, limit: int
) -> Page[Statement]:
    """Statements, newest first; the cursor is (business_date, merchant_id) of the last one."""
    query = (
        select(t.statements)
        .order_by(t.statements.c.business_date.desc(), t.statements.c.merchant_id.desc())
        .limit(check_limit(limit) + 1)
    )
    if merchant_id is not None:
        query = query.where(t.statements.c.merchant_id == merchant_id)
    after = decode_cursor(cursor, (date, str))
    if after is not None:
        day, last_merchant = after
        assert isinstance(day, date)
        query = query.where(
            after_cursor(
                [t.statements.c.business_date, t.statements.c.merchant_id],
                (day.isoformat(), last_merchant),
                newest_first=True,
            )
        )
    with ctx.engine.connect() as conn:
        found = [_statement(r) for r in conn.execute(query)]
    last = found[limit - 1] if len(found) > limit else None
    return Page(
        found[:limit],
        encode_cursor([last.business_date, last.merchant_id]) if last else None,
    )


def reserve_status(ctx: Context, *, conn: Connection | None = None) -> ReserveStatus:
    with ctx.reading(conn) as c:
        return _reserve(c)


def _reserve(conn: Connection) -> ReserveStatus:
    return ReserveStatus(*queries.reserve_and_liability(conn))


def liabilities(ctx: Context) -> LiabilityReport:
    """Outstanding points, their value, by expiry month (the Shanghai month of the points' last
    valid day), and an estimated breakage."""
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with ctx.engine.connect() as conn:
        status = _reserve(conn)
        for expires_at, points, value in queries.outstanding_by_expiry(conn):
            # the month of the last day they are valid
            month = last_valid_day(expires_at).strftime("%Y-%m") if expires_at else "never"
            months[month][0] += points
            months[month][1] += points * value
        expired, redeemed = queries.points_gone(conn)
    rate = breakage_rate_bp(expired, redeemed)
    estimated = status.outstanding_points * rate // 10_000
    value_per_point = (
        status.liability_fen // status.outstanding_points if status.outstanding_points else 0
    )
    return LiabilityReport(
        outstanding_points=status.outstanding_points,
        value_fen=status.liability_fen,
        by_expiry_month=[ExpiryBucket(m, p, v) for m, (p, v) in sorted(months.items())],
        breakage_rate_bp=rate,
        estimated_breakage_points=estimated,
        estimated_breakage_fen=estimated * value_per_point,
        reserve=status,
    )
