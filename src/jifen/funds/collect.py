"""A payment, from its creation to the points it earns: the money goes to the merchant's
account at the provider, the provider says it was paid, and Jifen records the order.

The provider's word is the only proof of payment Jifen accepts for a provider order: the
notification (signature verified, body decrypted) or Jifen's own query of the payment. Either
path applies a payment once, on the provider's transaction id: a duplicated or retried
notification finds the payment already paid and changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, select, update

from jifen.alliance.members import require_member
from jifen.alliance.merchants import active_merchant
from jifen.alliance.orders import record_order
from jifen.app.context import Context
from jifen.errors import InvalidRequest, JifenError
from jifen.funds._planning import plan_splits
from jifen.funds.accounts import plan_version, provider_account
from jifen.funds.config import POLL_AFTER, Funds
from jifen.funds.errors import AmountMismatch, PaymentNotFound
from jifen.funds.records import Payment, get_payment, out_trade_no_for
from jifen.ledger.errors import IdempotencyConflict
from jifen.ledger.model import ID_PATTERN
from jifen.payments import PaymentMethod, PaymentRequest, PaymentState, ProviderUnavailable
from jifen.store import insert_missing
from jifen.store import tables as t

log = logging.getLogger("jifen.funds")


def payment_of_order(ctx: Context, merchant_id: str, order_ref: str) -> Payment | None:
    try:
        return get_payment(ctx, out_trade_no_for(merchant_id, order_ref), merchant_id=merchant_id)
    except PaymentNotFound:
        return None


def create_payment(
    ctx: Context,
    funds: Funds,
    merchant_id: str,
    *,
    order_ref: str,
    member_id: str,
    amount_fen: int,
    description: str,
    method: PaymentMethod = PaymentMethod.NATIVE,
    payer_openid: str | None = None,
) -> Payment:
    """Ask the provider for a payment of the order to the merchant's account, held for splitting
    (``profit_sharing``), under the merchant's newest plan. The same order again is a replay;
    the same order with another amount or member is a conflict."""
    if not ID_PATTERN.fullmatch(order_ref):
        raise InvalidRequest(
            "订单号须为 1-64 位字母、数字、. _ - / order_ref: 1-64 of A-Za-z0-9._-"
        )
    if not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidRequest("金额须为正整数分 / amount_fen is a positive whole number of fen")
    if method is PaymentMethod.JSAPI and not payer_openid:
        raise InvalidRequest("JSAPI 支付须提供 payer_openid / JSAPI needs the payer's openid")
    out_trade_no = out_trade_no_for(merchant_id, order_ref)
    try:
        known = get_payment(ctx, out_trade_no)
    except PaymentNotFound:
        known = None
    if known is not None:
        if (known.member_id, known.amount_fen) != (member_id, amount_fen):
            raise IdempotencyConflict(
                "该订单已以其他金额或会员发起支付 / the order was put to payment with another "
                "amount or member",
                out_trade_no=out_trade_no,
                detail_key="payment",
            )
        return known
    active_merchant(ctx, merchant_id)
    require_member(ctx, member_id)
    linked = provider_account(ctx, merchant_id)
    assert linked is not None
    plan = plan_version(ctx, merchant_id)
    created = funds.provider.create_payment(
        PaymentRequest(
            merchant=linked.account,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            description=description,
            notify_url=funds.notify_url,
            method=method,
            payer_openid=payer_openid,
            attach=json.dumps({"m": merchant_id, "o": order_ref}, separators=(",", ":")),
        )
    )
    row = {
        "out_trade_no": out_trade_no,
        "merchant_id": merchant_id,
        "order_ref": order_ref,
        "member_id": member_id,
        "amount_fen": amount_fen,
        "description": description,
        "method": method.value,
        "plan_version": plan.version if plan else None,
        "state": "created",
        "transaction_id": None,
        "paid_at": None,
        "pay_url": created.code_url or created.prepay_id,
        "order_error": None,
        "created_at": ctx.clock.now(),
    }
    with ctx.writer.begin() as conn:
        insert_missing(conn, t.payments, [row])
    return get_payment(ctx, out_trade_no)


def apply_paid(ctx: Context, funds: Funds, state: PaymentState) -> Payment:
    """The provider says ``state.out_trade_no`` was paid: mark it paid, record the order and its
    points, and plan the splits — one transaction, once per transaction id."""

    def work(tx: Connection) -> Payment:
        payment = get_payment(ctx, state.out_trade_no, conn=tx)
        if payment.state == "paid":
            return payment  # a duplicate: the first notification or query applied it
        if state.amount_fen != payment.amount_fen:
            raise AmountMismatch(
                f"支付机构通知金额 {state.amount_fen} 分与订单 {payment.amount_fen} 分不符 / "
                "the provider paid another amount than the payment asked",
                paid_fen=state.amount_fen,
                amount_fen=payment.amount_fen,
            )
        paid_at = state.success_time or ctx.clock.now()
        won = tx.execute(
            update(t.payments)
            .where(t.payments.c.out_trade_no == payment.out_trade_no)
            .where(t.payments.c.state == "created")
            .values(state="paid", transaction_id=state.transaction_id, paid_at=paid_at)
        ).rowcount
        if won != 1:
            return get_payment(ctx, state.out_trade_no, conn=tx)
        points = 0
        try:
            with tx.begin_nested():
                order = record_order(
                    ctx,
                    payment.merchant_id,
                    order_ref=payment.order_ref,
                    member_id=payment.member_id,
                    amount_fen=payment.amount_fen,
                    paid_at=min(paid_at, ctx.clock.now()),
                    conn=tx,
                )
            points, version = order.points, order.rule_version
        except JifenError as exc:  # money was paid: it is split as planned, without points
            log.warning("a paid order earned no points", extra={"code": exc.code})
            tx.execute(
                update(t.payments)
                .where(t.payments.c.out_trade_no == payment.out_trade_no)
                .values(order_error=f"{exc.code}: {exc}")
            )
            version = None
        plan_splits(
            ctx, funds, get_payment(ctx, payment.out_trade_no, conn=tx), points, version, tx
        )
        return get_payment(ctx, payment.out_trade_no, conn=tx)

    return ctx.atomic(None, work)


def poll_unpaid(ctx: Context, funds: Funds) -> int:
    """Query the provider for payments created a while ago and still unpaid: a notification
    that never arrived must not leave a paid order without its points."""
    cutoff = ctx.clock.now() - POLL_AFTER
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.payments.c.out_trade_no, t.provider_accounts.c.account)
            .join(
                t.provider_accounts, t.provider_accounts.c.merchant_id == t.payments.c.merchant_id
            )
            .where(t.payments.c.state == "created", t.payments.c.created_at <= cutoff)
            .limit(200)
        ).all()
    applied = 0
    for out_trade_no, account in rows:
        try:
            state = funds.provider.query_payment(out_trade_no, account)
        except ProviderUnavailable:
            break
        except JifenError:
            continue
        if state.state in ("SUCCESS", "REFUND"):
            apply_paid(ctx, funds, state)
            applied += 1
    return applied


def paid_state(resource: Mapping[str, object]) -> PaymentState:
    """A TRANSACTION.SUCCESS resource as the protocol's plain value."""
    amount = resource.get("amount")
    total = amount.get("total") if isinstance(amount, Mapping) else None
    success = resource.get("success_time")
    if not isinstance(total, int) or not isinstance(resource.get("out_trade_no"), str):
        raise InvalidRequest("支付通知缺少金额或订单号 / the notification lacks amount or number")
    return PaymentState(
        out_trade_no=str(resource["out_trade_no"]),
        transaction_id=str(resource.get("transaction_id") or "") or None,
        state=str(resource.get("trade_state", "SUCCESS")),
        amount_fen=total,
        success_time=datetime.fromisoformat(success) if isinstance(success, str) else None,
        attach=str(resource.get("attach") or ""),
    )
