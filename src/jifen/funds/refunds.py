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

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from jifen.alliance.errors import OrderNotFound
from jifen.alliance.orders import refund_order
from jifen.app.context import Context
from jifen.errors import InvalidRequest, JifenError
from jifen.funds.accounts import provider_account
from jifen.funds.config import Funds
from jifen.funds.errors import PaymentNotPaid, RefundInProgress, RefundTooLarge
from jifen.funds.records import Payment, get_payment, split_orders
from jifen.ledger import ReturnSplit
from jifen.ledger.errors import IdempotencyConflict
from jifen.ledger.model import ID_PATTERN
from jifen.payments import (
    RESERVE_RECEIVER,
    ProviderRefused,
    ProviderUnavailable,
    RefundRequest,
    ReturnRequest,
)
from jifen.store import tables as t

RETURN_RETRY = timedelta(hours=1)
"""A FAILED return is sent again (under a new number) after this long."""
MAX_RETURN_ATTEMPTS = 24


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
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def _refund(row: Any) -> Refund:
    return Refund(**row._mapping)


def get_refund(ctx: Context, out_refund_no: str, *, conn: Connection | None = None) -> Refund:
    with ctx.reading(conn) as c:
        row = c.execute(select(t.refunds).where(t.refunds.c.out_refund_no == out_refund_no)).one()
    return _refund(row)


def refunds_of(ctx: Context, out_trade_no: str) -> list[Refund]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.refunds)
            .where(t.refunds.c.out_trade_no == out_trade_no)
            .order_by(t.refunds.c.created_at, t.refunds.c.out_refund_no)
        ).all()
    return [_refund(r) for r in rows]


def out_refund_no_for(out_trade_no: str, refund_ref: str) -> str:
    return "RF" + hashlib.sha256(f"{out_trade_no}\x1f{refund_ref}".encode()).hexdigest()[:30]


def request_refund(
    ctx: Context, merchant_id: str, out_trade_no: str, *, refund_ref: str, refund_fen: int
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
                        "退款号已用于其他金额 / refund_ref used for another amount"
                    )
                return _refund(row)
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
            "attempts": 0,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        tx.execute(t.refunds.insert().values(**fresh))
        if refunded + refund_fen == payment.amount_fen:  # a whole refund: later moments never come
            tx.execute(
                update(t.split_orders)
                .where(t.split_orders.c.out_trade_no == out_trade_no)
                .where(t.split_orders.c.state == "waiting")
                .values(state="cancelled", updated_at=now)
            )
        return get_refund(ctx, out_refund_no, conn=tx)

    return ctx.atomic(None, work)


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
        elif receiver in ("operator_fee",):
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
                "out_return_no": _return_no(refund.out_refund_no, receiver, out_order_no, 1),
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


def _return_no(out_refund_no: str, receiver: str, out_order_no: str, attempt: int) -> str:
    digest = hashlib.sha256(f"{out_order_no}\x1f{receiver}".encode()).hexdigest()[:8]
    return f"{out_refund_no}-{digest}-{attempt}"


def _follow_returns(ctx: Context, funds: Funds, refund: Refund, account: str) -> None:
    """From ``returning``: send due returns, follow processing ones, renew failed ones; when
    all have succeeded, book them (``ReturnSplit``) and go on to the refund."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.split_returns).where(t.split_returns.c.out_refund_no == refund.out_refund_no)
        ).all()
    now = ctx.clock.now()
    current: dict[tuple[str, str], Any] = {}
    for r in rows:  # the newest attempt per (split, receiver)
        key = (r.out_order_no, r.receiver)
        if key not in current or r.attempt > current[key].attempt:
            current[key] = r
    for r in current.values():
        try:
            if r.state == "due":
                result = funds.provider.return_split(
                    ReturnRequest(
                        merchant=account,
                        out_order_no=r.out_order_no,
                        out_return_no=r.out_return_no,
                        return_account=r.account,
                        fen=r.fen,
                        description="退款前分账回退 / return before refund",
                    )
                )
            elif r.state == "processing":
                result = funds.provider.query_return(r.out_order_no, r.out_return_no, account)
            elif r.state == "failed" and r.finished_at + RETURN_RETRY <= now:
                if r.attempt < MAX_RETURN_ATTEMPTS:
                    _renew(ctx, r, now)
                continue
            else:
                continue
        except ProviderUnavailable:
            return
        except ProviderRefused as exc:
            _set_return(ctx, r.out_return_no, "failed", None, str(exc)[:64], now)
            _note(ctx, refund, str(exc))
            continue
        state = {"SUCCESS": "succeeded", "FAILED": "failed"}.get(result.result, "processing")
        _set_return(
            ctx,
            r.out_return_no,
            state,
            result.return_id,
            result.fail_reason,
            now if state != "processing" else None,
        )
        if state == "failed":
            _note(ctx, refund, f"分账回退失败 / return failed: {result.fail_reason}")
    with ctx.engine.connect() as conn:
        states = {
            (r.out_order_no, r.receiver): r.state
            for r in conn.execute(
                select(t.split_returns)
                .where(t.split_returns.c.out_refund_no == refund.out_refund_no)
                .order_by(t.split_returns.c.attempt)
            )
        }
    if states and all(s == "succeeded" for s in states.values()):
        _returned(ctx, refund)


def _renew(ctx: Context, f: Any, now: datetime) -> None:
    attempt = f.attempt + 1
    with ctx.writer.begin() as conn:
        conn.execute(
            t.split_returns.insert().values(
                out_return_no=_return_no(f.out_refund_no, f.receiver, f.out_order_no, attempt),
                out_refund_no=f.out_refund_no,
                out_order_no=f.out_order_no,
                receiver=f.receiver,
                account=f.account,
                fen=f.fen,
                attempt=attempt,
                state="due",
                return_id=None,
                fail_reason=None,
                created_at=now,
                finished_at=None,
            )
        )


def _set_return(
    ctx: Context,
    out_return_no: str,
    state: str,
    return_id: str | None,
    fail_reason: str | None,
    finished_at: datetime | None,
) -> None:
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.split_returns)
            .where(t.split_returns.c.out_return_no == out_return_no)
            .values(
                state=state, return_id=return_id, fail_reason=fail_reason, finished_at=finished_at
            )
        )


def _note(ctx: Context, refund: Refund, error: str) -> None:
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.refunds)
            .where(t.refunds.c.out_refund_no == refund.out_refund_no)
            .values(last_error=error, attempts=t.refunds.c.attempts + 1, updated_at=ctx.clock.now())
        )


def _returned(ctx: Context, refund: Refund) -> None:
    def work(tx: Connection) -> None:
        reserve = tx.execute(
            select(func.coalesce(func.sum(t.split_returns.c.fen), 0))
            .where(t.split_returns.c.out_refund_no == refund.out_refund_no)
            .where(t.split_returns.c.receiver == RESERVE_RECEIVER)
            .where(t.split_returns.c.state == "succeeded")
        ).scalar_one()
        if reserve:
            ctx.ledger.submit(
                ReturnSplit(
                    key=f"return:{refund.out_refund_no}",
                    merchant_id=refund.merchant_id,
                    reserve_fen=int(reserve),
                    fee_fen=0,
                    reference=refund.out_refund_no,
                ),
                ctx.clock.now(),
                conn=tx,
            )
        tx.execute(
            update(t.refunds)
            .where(t.refunds.c.out_refund_no == refund.out_refund_no)
            .where(t.refunds.c.state == "returning")
            .values(state="refunding", last_error=None, updated_at=ctx.clock.now())
        )

    ctx.atomic(None, work)


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
        _note(ctx, refund, str(exc))  # e.g. NOT_ENOUGH: the merchant tops up, we try again
        return
    values: dict[str, object] = {"refund_id": refund_id, "updated_at": ctx.clock.now()}
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
        refund = _refund(row)
        payment = get_payment(ctx, refund.out_trade_no)
        linked = provider_account(ctx, refund.merchant_id)
        assert linked is not None
        try:
            if refund.state == "waiting":
                _open_returns(ctx, refund, payment)
            elif refund.state == "returning":
                _follow_returns(ctx, funds, refund, linked.account)
            elif refund.state == "refunding":
                _pay_back(ctx, funds, refund, payment, linked.account)
        except JifenError as exc:  # recorded on the refund; the others go on
            _note(ctx, refund, f"{exc.code}: {exc}")
    with ctx.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.refunds).where(t.refunds.c.state != "succeeded")
            ).scalar_one()
        )
