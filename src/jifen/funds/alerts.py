"""Large-value alerts (brief §7, the PBoC's 大额交易 lines): per member per business day, and
per merchant per day for what the reserve paid it, totals at or over a line raise an internal
alert for the operator, who decides whether a report is due. Jifen reports nothing by itself.

Which line applies: a member's payments through the provider are an individual's transfers
(¥500,000 domestic; the ¥200,000 cross-border line does not arise, Jifen takes CNY only at
domestic providers); orders a merchant recorded as cash are cash (¥50,000); a payout from the
reserve to a merchant is a non-individual's transfer (¥2,000,000).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from jifen.app.clock import day_start
from jifen.app.context import Context
from jifen.app.paging import Page, after_cursor, check_limit, decode_cursor, encode_cursor
from jifen.ledger import queries
from jifen.store import insert_missing
from jifen.store import tables as t

LINES_FEN = {
    "individual_transfer": 50_000_000,  # ¥500,000
    "cash": 5_000_000,  # ¥50,000
    "non_individual": 200_000_000,  # ¥2,000,000
}


@dataclass(frozen=True)
class Alert:
    subject: str  # member:{id} | merchant:{id}
    business_date: str
    line: str
    total_fen: int
    threshold_fen: int
    created_at: datetime


def crossings(totals: dict[tuple[str, str], int]) -> list[tuple[str, str, int, int]]:
    """Pure: (subject, line, total, threshold) for every total at or over its line."""
    return [
        (subject, line, total, LINES_FEN[line])
        for (subject, line), total in sorted(totals.items())
        if total >= LINES_FEN[line]
    ]


def check_day(ctx: Context, day: date) -> int:
    """Raise the alerts of ``day``; a re-run raises none twice."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with ctx.engine.connect() as conn:
        provider_paid: set[tuple[str, str]] = set()
        for r in conn.execute(
            select(
                t.payments.c.merchant_id,
                t.payments.c.order_ref,
                t.payments.c.member_id,
                t.payments.c.amount_fen,
            ).where(t.payments.c.paid_at >= start, t.payments.c.paid_at < end)
        ):
            provider_paid.add((r.merchant_id, r.order_ref))
            totals[(f"member:{r.member_id}", "individual_transfer")] += int(r.amount_fen)
        for member, merchant, ref, fen in queries.orders_paid(conn, start, end):
            if (merchant, ref) not in provider_paid:
                totals[(f"member:{member}", "cash")] += fen
        for merchant_id, fen in conn.execute(
            select(t.payouts.c.merchant_id, t.payouts.c.fen).where(
                t.payouts.c.business_date == day.isoformat(), t.payouts.c.state != "failed"
            )
        ):
            totals[(f"merchant:{merchant_id}", "non_individual")] += int(fen)
    found = crossings(dict(totals))
    rows = [
        {
            "subject": s,
            "business_date": day.isoformat(),
            "line": line,
            "total_fen": total,
            "threshold_fen": limit,
            "created_at": ctx.clock.now(),
        }
        for s, line, total, limit in found
    ]
    with ctx.writer.begin() as conn:
        insert_missing(conn, t.large_value_alerts, rows)
    return len(rows)


def list_alerts(ctx: Context, *, cursor: str | None, limit: int) -> Page[Alert]:
    """Newest first (business date, then subject and line, all descending)."""
    c = t.large_value_alerts.c
    columns = [c.business_date, c.subject, c.line]
    after = after_cursor(columns, decode_cursor(cursor, (str, str, str)), newest_first=True)
    query = select(t.large_value_alerts).where(after).order_by(*(col.desc() for col in columns))
    with ctx.engine.connect() as conn:
        rows = [Alert(**r._mapping) for r in conn.execute(query.limit(check_limit(limit) + 1))]
    last = rows[limit - 1] if len(rows) > limit else None
    return Page(
        rows[:limit], encode_cursor([last.business_date, last.subject, last.line]) if last else None
    )
