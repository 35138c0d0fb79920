"""Daily settlement and the reserve, on the store: statements per merchant per business day.

Settling a day posts each merchant's net to clearing (one ``Settle`` entry, key
``settle:{date}:{merchant}``, so re-running a day changes nothing) and keeps the statement beside
it; then the reserve is checked against the value of outstanding points.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from jifen.app.clock import business_date, day_bounds, last_valid_day
from jifen.app.context import Context
from jifen.app.paging import Page, after_cursor, check_limit, decode_cursor, encode_cursor
from jifen.ledger import Settle
from jifen.ledger.model import RESERVE
from jifen.settlement.statement import (
    ExpiryBucket,
    LiabilityReport,
    Movement,
    ReserveStatus,
    Statement,
    breakage_rate_bp,
    statement,
)
from jifen.store import tables as t
from jifen.store.bulk import insert_missing

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
    """The movements booked in ``[start, end)``, by the business day each was booked on.

    A movement is a leg on a merchant's money account (or points on its ``accepted`` account)
    of any entry but a settlement, summed per merchant and entry kind, plus the points each
    merchant's orders issued (their lots, by the day the earn was booked)."""
    booked = and_(t.entries.c.at >= start, t.entries.c.at < end, t.entries.c.kind != "settle")
    sums: dict[tuple[date, str, str, str], int] = defaultdict(int)
    money = conn.execute(
        select(t.entries.c.at, t.legs.c.account_id, t.entries.c.kind, func.sum(t.legs.c.amount))
        .join(t.entries, t.entries.c.entry_id == t.legs.c.entry_id)
        .where(
            booked,
            t.legs.c.account_id.like("merchant:%"),
            or_(t.legs.c.asset == "CNY", t.legs.c.account_id.like("%:accepted")),
        )
        .group_by(t.entries.c.at, t.legs.c.account_id, t.entries.c.kind)
    )
    for at, account, kind, amount in money:
        merchant_id = account[len("merchant:") :].rpartition(":")[0]
        figure = "fen" if account.endswith(":cny") else "points_accepted"
        sums[business_date(at), merchant_id, kind, figure] += int(amount)
    issued = conn.execute(
        select(t.entries.c.at, t.lots.c.merchant_id, func.sum(t.lots.c.points))
        .join(t.entries, t.entries.c.entry_id == t.lots.c.lot_id)
        .where(booked)
        .group_by(t.entries.c.at, t.lots.c.merchant_id)
    )
    for at, merchant_id, points in issued:
        sums[business_date(at), merchant_id, "earn", "points_issued"] += int(points)
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
        "entry_id": entry_id,
        "created_at": ctx.clock.now(),
    }
    with ctx.writer.begin() as conn:
        insert_missing(conn, t.statements, [row])
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
    reserve = conn.execute(
        select(func.coalesce(func.sum(t.balances.c.amount), 0)).where(
            t.balances.c.account_id == RESERVE
        )
    ).scalar_one()
    outstanding, liability = conn.execute(
        select(
            func.coalesce(func.sum(t.lots.c.pending + t.lots.c.available), 0),
            func.coalesce(
                func.sum((t.lots.c.pending + t.lots.c.available) * t.lots.c.value_fen_per_point),
                0,
            ),
        )
    ).one()
    return ReserveStatus(int(reserve), int(outstanding), int(liability))


def liabilities(ctx: Context) -> LiabilityReport:
    """Outstanding points, their value, by expiry month (the Shanghai month of the points' last
    valid day), and an estimated breakage."""
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with ctx.engine.connect() as conn:
        status = _reserve(conn)
        live = conn.execute(
            select(
                t.lots.c.expires_at,
                t.lots.c.pending + t.lots.c.available,
                t.lots.c.value_fen_per_point,
            ).where(or_(t.lots.c.pending > 0, t.lots.c.available > 0))
        )
        for expires_at, points, value in live:  # the month of the last day they are valid
            month = last_valid_day(expires_at).strftime("%Y-%m") if expires_at else "never"
            months[month][0] += int(points)
            months[month][1] += int(points) * int(value)
        expired, redeemed = conn.execute(
            select(
                func.coalesce(func.sum(t.lots.c.expired), 0),
                func.coalesce(func.sum(t.lots.c.redeemed), 0),
            )
        ).one()
    rate = breakage_rate_bp(int(expired), int(redeemed))
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
