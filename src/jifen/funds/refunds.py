"""Refunds of split orders: the splits are returned first (分账回退), then the customer is paid
back (payments.md §6). The points side — the clawback and the value credited to the merchant —
is booked when the merchant asks, like a cash order's refund; the money follows, step by step,
each step a visible state that the runner retries until it is done:

``waiting``    an instruction of the payment is still being split: returns wait for it
``returning``  the returns are sent and followed; a FAILED return is sent again under a new
               number (the receiver may be short of balance for a while)
``refunding``  every return succeeded (booked as ``ReturnSplit``): the refund is sent and
               followed; a refusal (the merchant's balance is short) is retried
``succeeded``  the customer has the money back

What is returned: the reserve gives back the value the ledger credited for the clawed-back
points (never more than it received for the payment); each MERCHANT_ID receiver of the plan
gives back its share pro rata to the amount refunded (cumulative, ROUND_DOWN, so the refunds of
a whole order return everything); the operator keeps its fee margin, as the provider keeps its
processing fee. A PERSONAL_OPENID receiver cannot be returned from: the merchant covers it.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select, update

from jifen.alliance.errors import OrderNotFound
from jifen.alliance.orders import refund_order
from jifen.app.context import Context
from jifen.errors import InvalidRequest, JifenError
from jifen.funds._returns import follow_returns, note, return_no
from jifen.funds.accounts import provider_account
from jifen.funds.config import Funds
from jifen.funds.errors import PaymentNotPaid, RefundInProgress, RefundTooLarge
from jifen.funds.records import (
    Payment,
    Refund,
    get_payment,
    get_refund,
    provider_number,
    refund_of_row,
    split_orders,
)
from jifen.ledger.errors import IdempotencyConflict
from jifen.ledger.model import ID_PATTERN
from jifen.payments import (
    FEE_RECEIVER,
    RESERVE_RECEIVER,
    ProviderRefused,
    ProviderUnavailable,
    RefundRequest,
)
from jifen.store import tables as t


def out_refund_no_for(out_trade_no: str, refund_ref: str) -> str:
    return provider_number("RF", out_trade_no, refund_ref)


def request_refund(
    ctx: Context,
    merchant_id: str,
    out_trade_no: str,
    *,
    refund_ref: str,
    refund_fen: int,
    conn: Connection | None = None,
) -> Refund:
    """Book the points side of a refund and queue its money. The same ``refund_ref`` again is a
    replay; one refund of a payment runs at a time."""
    if not ID_PATTERN.fullmatch(refund_ref):
        raise InvalidRequest(
            "退款号须为 1-64 位字母、数字、. _ - / refund_ref: 1-64 of A-Za-z0-9._-"
        )
    if not isinstance(refund_fen, int) or refund_fen <= 0:
        raise InvalidRequest("退款金额须为正整数分 / refund_fen is a positive whole number of fen")
    out_refund_no = out_refund_no_for(out_trade_no, refund_ref)

    def work(tx: Connection) -> Refund:
        payment = get_payment(ctx, out_trade_no, merchant_id=merchant_id, conn=tx)
        if payment.state != "paid":
            raise PaymentNotPaid("支付尚未完成，不能退款 / the payment is not paid yet")
        mine = tx.execute(select(t.refunds).where(t.refunds.c.out_trade_no == out_trade_no)).all()
        for row in mine:
            if row.refund_ref == refund_ref:
                if row.refund_fen != refund_fen:
                    raise IdempotencyConflict(
                        "退款号已用于其他金额 / refund_ref used for another amount",
                        refund_ref=refund_ref,
                        detail_key="refund",
                    )
                return refund_of_row(row)
        if any(row.state != "succeeded" for row in mine):
            raise RefundInProgress(
                "该支付有退款正在处理 / a refund of this payment is still running"
            )
        refunded = sum(row.refund_fen for row in mine)
        if refunded + refund_fen > payment.amount_fen:
            raise RefundTooLarge(
                f"累计退款将超过支付金额，最多还可退 {payment.amount_fen - refunded} 分 / refunds "
                f"would pass the amount paid; {payment.amount_fen - refunded} fen left",
                refundable_fen=payment.amount_fen - refunded,
            )
        credited = deducted = 0
        try:
            points = refund_order(
                ctx,
                merchant_id,
                payment.order_ref,
                refund_ref=refund_ref,
                refund_fen=refund_fen,
                conn=tx,
            )
            credited, deducted = points.credited_fen, points.deduct_fen
        except OrderNotFound:
            pass  # the order earned no points: only money moves
        now = ctx.clock.now()
        fresh = {
            "out_refund_no": out_refund_no,
            "out_trade_no": out_trade_no,
            "merchant_id": merchant_id,
            "refund_ref": refund_ref,
            "refund_fen": refund_fen,
            "customer_fen": refund_fen - deducted,
            "credited_fen": credited,
            "state": "waiting",
            "refund_id": None,
            "sent_at": None,
            "attempts": 0,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        tx.execute(t.refunds.insert().values(**fresh))
        if refunded + refund_fen == payment.amount_fen:  # a whole refund: later moments never come
            o = t.split_orders.c  # waiting for an event, or dated later (``released``), not paid
            later = (o.state == "due") & (o.due_at > now) & (o.condition != "paid")
            tx.execute(
                update(t.split_orders)
                .where(o.out_trade_no == out_trade_no)
                .where((o.state == "waiting") | later)
                .values(state="cancelled", updated_at=now)
            )
        return get_refund(ctx, out_refund_no, conn=tx)

    return ctx.atomic(conn, work)


def _returns_for(
    conn: Connection, refund: Refund, payment: Payment
) -> list[tuple[str, str, str, int]]:
    """(out_order_no, receiver, account, fen) to return before ``refund``, as the module says."""
    refunded = conn.execute(
        select(func.coalesce(func.sum(t.refunds.c.refund_fen), 0)).where(
            t.refunds.c.out_trade_no == payment.out_trade_no
        )
    ).scalar_one()
    got: dict[tuple[str, str], tuple[str, int]] = {}
    for order in split_orders(conn, out_trade_no=payment.out_trade_no):
        for line in order.lines:
            if line.result == "SUCCESS" and line.type == "MERCHANT_ID":
                got[(order.out_order_no, line.receiver)] = (line.account, line.fen)
    back: dict[tuple[str, str], int] = {}
    for r in conn.execute(
        select(
            t.split_returns.c.out_order_no,
            t.split_returns.c.receiver,
            func.sum(t.split_returns.c.fen),
        )
        .join(t.refunds, t.refunds.c.out_refund_no == t.split_returns.c.out_refund_no)
        .where(t.refunds.c.out_trade_no == payment.out_trade_no)
        .where(t.split_returns.c.state != "failed")
        .group_by(t.split_returns.c.out_order_no, t.split_returns.c.receiver)
    ):
        back[(r[0], r[1])] = int(r[2])
    wanted = []
    reserve_due = refund.credited_fen
    for (out_order_no, receiver), (account, fen) in sorted(got.items()):
        left = fen - back.get((out_order_no, receiver), 0)
        if receiver == RESERVE_RECEIVER:
            amount = min(left, reserve_due)
            reserve_due -= amount
        elif receiver == FEE_RECEIVER:  # the operator keeps its margin
            amount = 0
        else:
            amount = min(left, fen * int(refunded) // payment.amount_fen - (fen - left))
        if amount > 0:
            wanted.append((out_order_no, receiver, account, amount))
    return wanted


def _open_returns(ctx: Context, refund: Refund, payment: Payment) -> None:
    """From ``waiting``: once nothing of the payment is being split, create its returns."""
    with ctx.writer.begin() as tx:
        if any(
            o.state == "processing" or (o.state == "due" and o.condition == "paid")
            for o in split_orders(tx, out_trade_no=payment.out_trade_no)
        ):
            return
        now = ctx.clock.now()
        rows = [
            {
                "out_return_no": return_no(refund.out_refund_no, receiver, out_order_no, 1),
                "out_refund_no": refund.out_refund_no,
                "out_order_no": out_order_no,
                "receiver": receiver,
                "account": account,
                "fen": fen,
                "attempt": 1,
                "state": "due",
                "return_id": None,
                "fail_reason": None,
                "created_at": now,
                "finished_at": None,
            }
            for out_order_no, receiver, account, fen in _returns_for(tx, refund, payment)
        ]
        if rows:
            tx.execute(t.split_returns.insert(), rows)
        tx.execute(
            update(t.refunds)
            .where(t.refunds.c.out_refund_no == refund.out_refund_no)
            .values(state="returning" if rows else "refunding", updated_at=now)
        )


def _pay_back(ctx: Context, funds: Funds, refund: Refund, payment: Payment, account: str) -> None:
    """From ``refunding``: send the refund (the same number each time: one refund at most) and
    follow it to SUCCESS."""
    assert payment.transaction_id is not None
    try:
        if refund.customer_fen == 0:
            status, refund_id = "SUCCESS", None  # the points' value covered it all
        elif refund.refund_id is None:
            result = funds.provider.refund(
                RefundRequest(
                    merchant=account,
                    transaction_id=payment.transaction_id,
                    out_refund_no=refund.out_refund_no,
                    refund_fen=refund.customer_fen,
                    total_fen=payment.amount_fen,
                    reason="退款 / refund",
                    notify_url=funds.notify_url,
                )
            )
            status, refund_id = result.status, result.refund_id
        else:
            result = funds.provider.query_refund(refund.out_refund_no, account)
            status, refund_id = result.status, result.refund_id
    except ProviderUnavailable:
        return
    except ProviderRefused as exc:
        note(ctx, refund, str(exc))  # e.g. NOT_ENOUGH: the merchant tops up, we try again
        return
    values: dict[str, object] = {"refund_id": refund_id, "updated_at": ctx.clock.now()}
    if refund.sent_at is None and refund.customer_fen:
        values["sent_at"] = ctx.clock.now()  # the provider took it: its trade bill's date
    if status == "SUCCESS":
        values.update(state="succeeded", last_error=None)
    elif status in ("ABNORMAL", "CLOSED"):
        values.update(last_error=f"退款状态 / refund status {status}", refund_id=None)
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.refunds)
            .where(t.refunds.c.out_refund_no == refund.out_refund_no)
            .values(**values)
        )


def advance_refunds(ctx: Context, funds: Funds) -> int:
    """One step for every refund not yet succeeded; returns how many are still open."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.refunds)
            .where(t.refunds.c.state != "succeeded")
            .order_by(t.refunds.c.created_at)
        ).all()
    for row in rows:
        refund = refund_of_row(row)
        payment = get_payment(ctx, refund.out_trade_no)
        linked = provider_account(ctx, refund.merchant_id)
        assert linked is not None
        try:
            if refund.state == "waiting":
                _open_returns(ctx, refund, payment)
            elif refund.state == "returning":
                follow_returns(ctx, funds, refund, linked.account)
            elif refund.state == "refunding":
                _pay_back(ctx, funds, refund, payment, linked.account)
        except JifenError as exc:  # recorded on the refund; the others go on
            note(ctx, refund, f"{exc.code}: {exc}")
    with ctx.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.refunds).where(t.refunds.c.state != "succeeded")
            ).scalar_one()
        )
