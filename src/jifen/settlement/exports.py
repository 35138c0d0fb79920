"""Statements and orders as CSV, for a merchant (its own) or the operator (one or all), by a range
of business days (Asia/Shanghai, both ends included).

Streamed: rows are read ``PAGE_ROWS`` at a time, each page on a connection of its own that is
given back before the page is sent, so a year of orders never sits in memory or holds a
connection while a slow client reads. Headers are bilingual, as the reconciliation report's
(``营业日 business_date``); amounts are integer fen, times ISO 8601 UTC. An import file may use
the same headers (``jifen.alliance.imports`` reads the last word of each).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from jifen.app.clock import day_bounds
from jifen.app.context import Context
from jifen.ledger import Lot, queries
from jifen.store import after_key
from jifen.store import tables as t

__all__ = [
    "ORDER_COLUMNS",
    "PAGE_ROWS",
    "STATEMENT_COLUMNS",
    "orders_csv",
    "statements_csv",
]

PAGE_ROWS = 1_000

STATEMENT_COLUMNS = (
    "营业日 business_date", "商家 merchant_id", "发行积分 points_issued",
    "发行费(分) charges_fen", "受理积分 points_accepted", "兑付(分) reimbursements_fen",
    "扣回返还(分) credits_fen", "调整(分) adjustments_fen", "分账已收(分) collected_fen",
    "分账回退(分) returned_fen", "净额(分) net_fen", "结算分录 entry_id",
)  # fmt: skip
ORDER_COLUMNS = (
    "支付时间 paid_at", "商家 merchant_id", "订单号 order_ref", "会员 member_id",
    "金额(分) amount_fen", "积分 points", "规则版本 rule_version", "状态 status",
    "待发放 pending", "可用 available", "已抵扣 redeemed", "已过期 expired",
    "已退款(分) refunded_fen", "发放时间 release_at", "到期时间 expires_at", "批次 lot_id",
)  # fmt: skip


def _lines(rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _stream(
    header: Sequence[str], page: Callable[[Sequence[Any] | None], tuple[list[list[Any]], Any]]
) -> Iterator[str]:
    """The header, then each page of rows as CSV text, until a page comes back short."""
    yield _lines([header])
    after: Sequence[Any] | None = None
    while True:
        rows, after = page(after)
        if rows:
            yield _lines(rows)
        if len(rows) < PAGE_ROWS:
            return


def statements_csv(ctx: Context, merchant_id: str | None, first: date, last: date) -> Iterator[str]:
    """Closed days' statements in ``[first, last]``, by day then merchant."""
    s = t.statements.c
    sort = [s.business_date, s.merchant_id]

    def page(after: Sequence[Any] | None) -> tuple[list[list[Any]], Any]:
        query = select(t.statements).where(
            s.business_date >= first.isoformat(),
            s.business_date <= last.isoformat(),
            after_key(sort, after, newest_first=False),
        )
        if merchant_id is not None:
            query = query.where(s.merchant_id == merchant_id)
        with ctx.engine.connect() as conn:
            found = conn.execute(query.order_by(*sort).limit(PAGE_ROWS)).all()
        rows = [
            [r.business_date, r.merchant_id, r.points_issued, r.charges_fen, r.points_accepted,
             r.reimbursements_fen, r.credits_fen, r.adjustments_fen, r.collected_fen,
             r.returned_fen, r.net_fen, r.entry_id or ""]
            for r in found
        ]  # fmt: skip
        return rows, (found[-1].business_date, found[-1].merchant_id) if found else None

    return _stream(STATEMENT_COLUMNS, page)


def _time(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ""


def _order_row(lot: Lot) -> list[Any]:
    return [
        _time(lot.paid_at), lot.merchant_id, lot.order_ref, lot.member_id, lot.amount_fen,
        lot.points, lot.rule_version, lot.status.value, lot.pending, lot.available,
        lot.redeemed, lot.expired, lot.refunded_fen, _time(lot.release_at),
        _time(lot.expires_at), lot.lot_id,
    ]  # fmt: skip


def orders_csv(ctx: Context, merchant_id: str | None, first: date, last: date) -> Iterator[str]:
    """Orders that earned points, paid on business days ``[first, last]``, oldest first, with
    their points' state now."""
    start, end = day_bounds(first)[0], day_bounds(last)[1]

    def page(after: Sequence[Any] | None) -> tuple[list[list[Any]], Any]:
        with ctx.engine.connect() as conn:
            lots = queries.lots_paid(
                conn, start, end, merchant_id=merchant_id, after=after, limit=PAGE_ROWS
            )
        return [_order_row(lot) for lot in lots], (
            (lots[-1].paid_at, lots[-1].lot_id) if lots else None
        )

    return _stream(ORDER_COLUMNS, page)
