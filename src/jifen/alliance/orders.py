"""Paid orders → pending points; refunds → void or clawback; cancellations (brief §5).

An order *is* its lot: the earn entry records the member, merchant, order ref, amount, payment
time and rule version, so recording an order is one ledger write, atomic and idempotent on the
order's own identity (merchant + order ref). The issue price is charged in the same entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from jifen.alliance.errors import (
    OrderNotCancellable,
    OrderNotFound,
    PaidInFuture,
    PaidTooLongAgo,
)
from jifen.alliance.members import require_member
from jifen.alliance.merchants import active_merchant, get_merchant
from jifen.app.clock import business_date
from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, decode_cursor, time_cursor
from jifen.errors import InvalidRequest
from jifen.ledger import Cap, CapExceeded, Earn, Lot, LotStatus, Refund, Shortfall, Void, queries
from jifen.ledger.chain import entry_id_for
from jifen.ledger.errors import LotState
from jifen.ledger.model import ID_PATTERN
from jifen.rules import expires_at as rule_expires_at
from jifen.rules import quote_earn
from jifen.rules import release_at as rule_release_at
from jifen.webhooks import emit, events

CLOCK_SKEW = timedelta(minutes=5)
"""How far a merchant's payment time may run ahead of ours (till clocks drift)."""
LATE_ORDER_LIMIT = timedelta(days=30)
"""How late a paid order may be recorded (an offline till syncing). Older orders would earn under
rules long superseded and be billed on a statement far from the sale: the operator handles them."""


def ledger_key(kind: str, merchant_id: str, *parts: str) -> str:
    """A ledger key owned by one merchant: merchants cannot collide with or probe each other."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{kind}:{merchant_id}:{digest}"


def issue_charge_fen(points: int, fen_per_1000_points: int) -> int:
    """The issue price of ``points``, ROUND_UP to the fen per order: the operator's margin absorbs
    the rounding, so the reserve part (whole fen per point) stays exact."""
    return -(-points * fen_per_1000_points // 1000)


@dataclass(frozen=True)
class Order:
    merchant_id: str
    order_ref: str
    member_id: str
    amount_fen: int
    refunded_fen: int
    paid_at: datetime
    rule_version: int | None
    points: int  # earned by the order (0: below the minimum spend or capped)
    status: str  # pending | released | voided | expired | reversed | no_points
    pending: int
    available: int
    release_at: datetime | None
    expires_at: datetime | None
    capped_by: str | None = None


def _order(lot: Lot) -> Order:
    return Order(
        merchant_id=lot.merchant_id,
        order_ref=lot.order_ref,
        member_id=lot.member_id,
        amount_fen=lot.amount_fen,
        refunded_fen=lot.refunded_fen,
        paid_at=lot.paid_at,
        rule_version=lot.rule_version,
        points=lot.points,
        status=lot.status.value,
        pending=lot.pending,
        available=lot.available,
        release_at=lot.release_at,
        expires_at=lot.expires_at,
    )


def _check_ref(order_ref: str) -> None:
    if not isinstance(order_ref, str) or not ID_PATTERN.fullmatch(order_ref):
        raise InvalidRequest(
            "订单号须为 1-64 位字母、数字、. _ - / order_ref: 1-64 of A-Z a-z 0-9 . _ -",
            field="order_ref",
            detail_key="order_ref",
        )


MAX_CAP_ROUNDS = 4
"""A capped order is quoted again when the cap, read under its lock, is further used up than the
quote assumed (a parallel order of the same member came first). Each round sees more used, so a
few rounds always settle; more would mean a cap moving under our feet, which the lock forbids."""


def earn_day_cap(member_id: str, paid_at: datetime) -> str:
    """The key of a member's earning on the business day (Asia/Shanghai) an order was paid."""
    return f"earn-day:{member_id}:{business_date(paid_at).isoformat()}"


def record_order(
    ctx: Context,
    merchant_id: str,
    *,
    order_ref: str,
    member_id: str,
    amount_fen: int,
    paid_at: datetime,
    conn: Connection | None = None,
) -> Order:
    """A paid order earns points under the rule version in force when it was paid.

    One transaction: the order's lot, its issue charge, and the member's daily cap counted under
    the cap's lock, so parallel orders of one member can never earn past the cap together."""
    _check_ref(order_ref)
    now = ctx.clock.now()
    if paid_at > now + CLOCK_SKEW:
        raise PaidInFuture("支付时间晚于当前时间 / paid_at is in the future", field="paid_at")
    if paid_at < now - LATE_ORDER_LIMIT:
        raise PaidTooLongAgo(
            "订单支付已超过 30 天，不能补记积分 / paid more than 30 days ago: too late to earn",
            field="paid_at",
            max_days=LATE_ORDER_LIMIT.days,
        )

    def work(tx: Connection) -> Order:
        merchant = active_merchant(ctx, merchant_id, conn=tx)
        require_member(ctx, member_id, conn=tx)
        version = ctx.rulebook.in_force(paid_at, conn=tx)
        doc = version.document
        key = ledger_key("order", merchant_id, order_ref)
        lot_id = entry_id_for(key)
        existing = ctx.ledger.lot(lot_id, conn=tx)  # a retry: replayed, or another body refused
        daily_cap = doc.earn.max_points_per_member_per_day
        cap_key = earn_day_cap(member_id, paid_at)
        used = ctx.ledger.cap_used(cap_key, conn=tx) if daily_cap and not existing else 0
        release = rule_release_at(doc, paid_at)
        for _ in range(MAX_CAP_ROUNDS):
            quote = quote_earn(
                doc,
                amount_fen=amount_fen,
                merchant_id=merchant_id,
                category=merchant.category,
                paid_at=paid_at,
                earned_today_points=used,
            )
            if existing is None and quote.points == 0:
                return Order(
                    merchant_id, order_ref, member_id, amount_fen, 0, paid_at, version.number,
                    0, "no_points", 0, 0, None, None, quote.capped_by,
                )  # fmt: skip
            points = existing.points if existing else quote.points
            earn = Earn(
                key=key,
                member_id=member_id,
                merchant_id=merchant_id,
                order_ref=order_ref,
                amount_fen=amount_fen,
                points=points,
                rule_version=version.number,
                paid_at=paid_at,
                release_at=release,
                expires_at=rule_expires_at(doc, release),
                charge_fen=issue_charge_fen(points, doc.issue_price.fen_per_1000_points),
                value_fen_per_point=doc.point_value.fen_per_point,
                cap=Cap(cap_key, daily_cap) if daily_cap else None,
            )
            try:
                booked = ctx.ledger.submit(earn, now, conn=tx)
            except CapExceeded as exc:
                used = int(exc.context["used_points"])  # counted under lock: quote again
                continue
            if not booked.replayed:  # a new lot is what the earn says: no need to read it back
                emit(tx, [events.order_recorded(
                    lot_id=lot_id, merchant_id=merchant_id, order_ref=order_ref,
                    member_id=member_id, amount_fen=amount_fen, points=points,
                    rule_version=version.number, paid_at=paid_at, release_at=earn.release_at,
                    expires_at=earn.expires_at, at=now,
                )])  # fmt: skip
                return Order(
                    merchant_id, order_ref, member_id, amount_fen, 0, paid_at, version.number,
                    points, LotStatus.PENDING.value, points, 0, earn.release_at, earn.expires_at,
                    quote.capped_by,
                )  # fmt: skip
            lot = ctx.ledger.lot(lot_id, conn=tx)
            assert lot is not None
            return dataclasses.replace(_order(lot), capped_by=quote.capped_by)
        raise AssertionError("a daily cap kept moving while its row was locked")

    return ctx.atomic(conn, work)


def _lot_of(ctx: Context, merchant_id: str, order_ref: str, conn: Connection | None) -> Lot:
    """The order's lot, only for its own merchant: another merchant's order is simply not found."""
    _check_ref(order_ref)
    lot = ctx.ledger.lot(entry_id_for(ledger_key("order", merchant_id, order_ref)), conn=conn)
    if lot is None or lot.merchant_id != merchant_id:
        raise OrderNotFound("没有这个订单 / no such order", order_ref=order_ref)
    return lot


def get_order(
    ctx: Context, merchant_id: str, order_ref: str, *, conn: Connection | None = None
) -> Order:
    return _order(_lot_of(ctx, merchant_id, order_ref, conn))


def list_orders(ctx: Context, merchant_id: str, *, cursor: str | None, limit: int) -> Page[Order]:
    """Newest first; the cursor is (paid_at, lot id) of the last order on the page."""
    after = decode_cursor(cursor, (datetime, str))
    with ctx.engine.connect() as conn:
        lots = queries.merchant_lots(conn, merchant_id, after=after, limit=check_limit(limit) + 1)
    items = [_order(lot) for lot in lots[:limit]]
    last = lots[limit - 1] if len(lots) > limit else None
    return Page(items, time_cursor(last.paid_at, last.lot_id) if last else None)


@dataclass(frozen=True)
class RefundResult:
    order: Order
    refund_fen: int
    clawback_points: int
    shortfall_points: int
    shortfall_policy: str
    deduct_fen: int  # what the merchant deducts from the cash refund (deduct_from_refund policy)
    credited_fen: int  # the reserve value returned to the merchant for the clawed-back points
    replayed: bool


def refund_order(
    ctx: Context,
    merchant_id: str,
    order_ref: str,
    *,
    refund_ref: str,
    refund_fen: int,
    conn: Connection | None = None,
) -> RefundResult:
    """A full or partial refund claws back points pro rata (ROUND_DOWN, cumulative), under the
    refund policy of the rule version the order was paid under."""

    def work(tx: Connection) -> RefundResult:
        get_merchant(ctx, merchant_id, conn=tx)  # a suspended merchant may still refund
        lot = _lot_of(ctx, merchant_id, order_ref, tx)
        _check_ref(refund_ref)
        doc = ctx.rulebook.get(lot.rule_version, conn=tx).document
        receipt = ctx.ledger.submit(
            Refund(
                key=ledger_key("refund", merchant_id, order_ref, refund_ref),
                lot_id=lot.lot_id,
                refund_fen=refund_fen,
                shortfall=Shortfall(doc.refund.shortfall),
            ),
            ctx.clock.now(),
            conn=tx,
        )
        d: dict[str, Any] = dict(receipt.detail)
        shortfall = int(d["shortfall_points"])
        deduct = (
            shortfall * lot.value_fen_per_point
            if d["shortfall_policy"] == "deduct_from_refund"
            else 0
        )
        if not receipt.replayed:
            emit(tx, [events.order_refunded(
                refund_entry_id=receipt.entry_id, merchant_id=merchant_id, order_ref=order_ref,
                refund_ref=refund_ref, member_id=lot.member_id, refund_fen=int(d["refund_fen"]),
                clawback_points=int(d["clawback_points"]), shortfall_points=shortfall,
                deduct_fen=deduct, at=receipt.at,
            )])  # fmt: skip
        return RefundResult(
            order=get_order(ctx, merchant_id, order_ref, conn=tx),
            refund_fen=int(d["refund_fen"]),
            clawback_points=int(d["clawback_points"]),
            shortfall_points=shortfall,
            shortfall_policy=str(d["shortfall_policy"]),
            deduct_fen=deduct,
            credited_fen=int(d.get("credited_fen", 0)),
            replayed=receipt.replayed,
        )

    return ctx.atomic(conn, work)


def cancel_order(
    ctx: Context, merchant_id: str, order_ref: str, *, conn: Connection | None = None
) -> Order:
    """Cancel inside the return window: the pending points are voided. Later, refund instead."""

    def work(tx: Connection) -> Order:
        lot = _lot_of(ctx, merchant_id, order_ref, tx)
        key = ledger_key("cancel", merchant_id, order_ref)
        if (
            lot.status is not LotStatus.PENDING
            and ctx.ledger.entry(entry_id_for(key), conn=tx) is None
        ):
            raise OrderNotCancellable(
                f"订单积分状态为 {lot.status.value}，只能退款 / points are {lot.status.value}; "
                "refund the order instead"
            )
        try:
            ctx.ledger.submit(Void(key=key, lot_id=lot.lot_id), ctx.clock.now(), conn=tx)
        except LotState as exc:
            raise OrderNotCancellable(
                "订单已不能取消 / the order can no longer be cancelled"
            ) from exc
        return get_order(ctx, merchant_id, order_ref, conn=tx)

    return ctx.atomic(conn, work)
