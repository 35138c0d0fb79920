"""The money path's records, as plain values, and their readers. Financial records: nothing
deletes them or rewrites an amount (docs/payments.md, records)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from jifen.app.context import Context
from jifen.funds.errors import PaymentNotFound
from jifen.store import tables as t


@dataclass(frozen=True)
class Payment:
    out_trade_no: str
    merchant_id: str
    order_ref: str
    member_id: str
    amount_fen: int
    description: str
    method: str
    plan_version: int | None
    state: str  # created | paid
    transaction_id: str | None
    paid_at: datetime | None
    pay_url: str | None
    order_error: str | None
    created_at: datetime


def provider_number(prefix: str, *parts: str) -> str:
    """A number the provider sees (``out_trade_no``, ``out_refund_no``, a payout's), derived from
    what it stands for, so sending it again is the same request there (payments.md §1.4): two
    letters and 30 hex digits, within WeChat's 32 characters."""
    return prefix + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:30]


def out_trade_no_for(merchant_id: str, order_ref: str) -> str:
    """The provider's number for the order: a retried creation is the same payment there too."""
    return provider_number("JF", merchant_id, order_ref)


def get_payment(
    ctx: Context,
    out_trade_no: str,
    *,
    merchant_id: str | None = None,
    conn: Connection | None = None,
) -> Payment:
    with ctx.reading(conn) as c:
        row = c.execute(select(t.payments).where(t.payments.c.out_trade_no == out_trade_no)).first()
    if row is None or (merchant_id is not None and row.merchant_id != merchant_id):
        raise PaymentNotFound("没有这笔支付 / no such payment", out_trade_no=out_trade_no)
    return Payment(**row._mapping)


@dataclass(frozen=True)
class SplitLine:
    receiver: str
    account: str
    type: str
    fen: int
    result: str  # PLANNED | PENDING | SUCCESS | CLOSED
    fail_reason: str | None
    detail_id: str | None
    finished_at: datetime | None


@dataclass(frozen=True)
class SplitOrder:
    out_order_no: str
    out_trade_no: str
    merchant_id: str
    condition: str
    state: str  # waiting | due | processing | finished | cancelled | refused
    due_at: datetime | None
    unfreeze: bool
    order_id: str | None
    attempts: int
    last_error: str | None
    lines: tuple[SplitLine, ...]


def split_orders(
    conn: Connection, *, out_trade_no: str | None = None, out_order_nos: list[str] | None = None
) -> list[SplitOrder]:
    query = select(t.split_orders)
    if out_trade_no is not None:
        query = query.where(t.split_orders.c.out_trade_no == out_trade_no)
    if out_order_nos is not None:
        query = query.where(t.split_orders.c.out_order_no.in_(out_order_nos))
    rows = conn.execute(query.order_by(t.split_orders.c.out_order_no)).all()
    numbers = [r.out_order_no for r in rows]
    lines: dict[str, list[SplitLine]] = {n: [] for n in numbers}
    if numbers:
        for line in conn.execute(
            select(t.split_lines)
            .where(t.split_lines.c.out_order_no.in_(numbers))
            .order_by(t.split_lines.c.out_order_no, t.split_lines.c.receiver)
        ):
            lines[line.out_order_no].append(
                SplitLine(
                    line.receiver,
                    line.account,
                    line.type,
                    line.fen,
                    line.result,
                    line.fail_reason,
                    line.detail_id,
                    line.finished_at,
                )
            )
    return [
        SplitOrder(
            r.out_order_no,
            r.out_trade_no,
            r.merchant_id,
            r.condition,
            r.state,
            r.due_at,
            bool(r.unfreeze),
            r.order_id,
            r.attempts,
            r.last_error,
            tuple(lines[r.out_order_no]),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Refund:
    out_refund_no: str
    out_trade_no: str
    merchant_id: str
    refund_ref: str
    refund_fen: int
    customer_fen: int
    credited_fen: int
    state: str
    refund_id: str | None
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def refund_of_row(row: Any) -> Refund:
    return Refund(**row._mapping)


def get_refund(ctx: Context, out_refund_no: str, *, conn: Connection | None = None) -> Refund:
    with ctx.reading(conn) as c:
        row = c.execute(select(t.refunds).where(t.refunds.c.out_refund_no == out_refund_no)).one()
    return refund_of_row(row)


def refunds_of(ctx: Context, out_trade_no: str, *, conn: Connection | None = None) -> list[Refund]:
    with ctx.reading(conn) as conn:
        rows = conn.execute(
            select(t.refunds)
            .where(t.refunds.c.out_trade_no == out_trade_no)
            .order_by(t.refunds.c.created_at, t.refunds.c.out_refund_no)
        ).all()
    return [refund_of_row(r) for r in rows]
