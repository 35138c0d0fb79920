"""Refunds (payments.md §6, rules 17–18): direct/SP ``/v3/refund/domestic/refunds`` and
平台收付通 ``/v3/ecommerce/refunds/apply``, their queries, and the REFUND.SUCCESS callback.

A refund is paid by the payer merchant: first from the transaction's frozen remainder (which then
shrinks, so less is left to split), then from the payer's available balance; with
``funds_account=AVAILABLE`` from the available balance only. It is never taken from a receiver:
money already split comes back only through a split return, which the platform orders first.
The money leaves when the refund is accepted (``PROCESSING``); it becomes ``SUCCESS`` after
``refund_delay_s`` on the sandbox clock. The fee is not given back (❌ WeChat's fee refund rule
was not found; the sandbox keeps the fee).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jifen.sandbox._calls import Call, payer_of
from jifen.sandbox._clock import rfc3339
from jifen.sandbox._requests import RefundRequest, parse
from jifen.sandbox._state import Refund, Transaction, key
from jifen.sandbox._world import (
    World,
    account,
    invalid,
    not_enough,
    not_found,
    param_error,
    person,
)


def apply(world: World, call: Call, *, api: str) -> dict[str, Any]:
    req = parse(RefundRequest, call.body)
    payer = payer_of(world, call, req.sub_mchid)
    refund_key = key(payer.mchid, req.out_refund_no)
    existing = world.state.refunds.get(refund_key)
    if existing is not None:  # rule 18: the same out_refund_no is the same refund
        return view(world, existing)
    txn = _transaction(world, payer.mchid, req.transaction_id, req.out_trade_no)
    if txn.trade_state not in ("SUCCESS", "REFUND"):
        raise invalid("订单未支付，不能退款 / the order is not paid")
    if req.amount.total != txn.total_fen:
        raise param_error("amount.total 与原订单金额不一致 / amount.total is not the order total")
    if world.now > (txn.success_time or world.now) + timedelta(
        days=world.state.settings.refund_window_days
    ):
        raise invalid("订单已超过退款期限 / the refund window has closed")
    if txn.refunded_fen + req.amount.refund > txn.total_fen:  # rule 18
        raise invalid("申请退款金额超过订单可退金额 / refunds would exceed the amount paid")
    frozen = 0 if req.funds_account == "AVAILABLE" or txn.finished else txn.unsplit_fen
    from_frozen = min(frozen, req.amount.refund)
    from_available = req.amount.refund - from_frozen
    if from_available > world.balance(account(payer.mchid, "AVAILABLE")):  # rule 17
        raise not_enough("可用余额不足，请充值后重新发起 / frozen remainder and balance are short")
    refund = Refund(
        key=refund_key, refund_id=world.next_number("5030", 17), out_refund_no=req.out_refund_no,
        transaction_key=txn.key, payer_mchid=payer.mchid, api=api,  # type: ignore[arg-type]
        amount_fen=req.amount.refund, from_frozen_fen=from_frozen,
        from_available_fen=from_available, funds_account=req.funds_account, reason=req.reason,
        notify_url=req.notify_url, create_time=world.now,
    )  # fmt: skip
    _pay_out(world, txn, refund)
    world.state.refunds[refund_key] = refund
    world.schedule("refund", refund_key, delay_s=world.state.settings.refund_delay_s)
    return view(world, refund)


def _transaction(
    world: World, payer_mchid: str, transaction_id: str | None, out_trade_no: str | None
) -> Transaction:
    if transaction_id:
        found = world.state.transaction_ids.get(transaction_id)
        txn = world.state.transactions.get(found) if found else None
    elif out_trade_no:
        txn = world.state.transactions.get(key(payer_mchid, out_trade_no))
    else:
        raise param_error("须提供 transaction_id 或 out_trade_no / name the transaction")
    if txn is None or txn.payer_mchid != payer_mchid:
        raise not_found("订单不存在 / no such order")
    return txn


def _pay_out(world: World, txn: Transaction, refund: Refund) -> None:
    refs = {"transaction_id": txn.transaction_id or "", "out_refund_no": refund.out_refund_no}
    customer = person(txn.openid or "")
    if refund.from_frozen_fen:
        world.move(
            "refund", account(txn.payer_mchid, "FROZEN"), customer, refund.from_frozen_fen, **refs
        )
        txn.unsplit_fen -= refund.from_frozen_fen
    if refund.from_available_fen:
        world.move(
            "refund",
            account(txn.payer_mchid, "AVAILABLE"),
            customer,
            refund.from_available_fen,
            **refs,
        )
    txn.refunded_fen += refund.amount_fen
    txn.trade_state = "REFUND"


def succeed(world: World, refund_key: str) -> None:
    """The scheduled end of a refund: SUCCESS, and its callback."""
    refund = world.state.refunds[refund_key]
    refund.status, refund.success_time = "SUCCESS", world.now
    txn = world.state.transactions[refund.transaction_key]
    world.notify(
        url=refund.notify_url or txn.notify_url, target_mchid=txn.api_mchid,
        apiv3_key=world.api_key_of(txn.api_mchid), event_type="REFUND.SUCCESS",
        summary="退款成功", original_type="refund", resource=_notice(world, txn, refund),
    )  # fmt: skip


def _notice(world: World, txn: Transaction, refund: Refund) -> dict[str, Any]:
    who = (
        {"sp_mchid": txn.api_mchid, "sub_mchid": txn.payer_mchid}
        if txn.partner
        else {"mchid": txn.payer_mchid}
    )
    return who | {
        "out_trade_no": txn.out_trade_no,
        "transaction_id": txn.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund.status,
        "success_time": rfc3339(refund.success_time or world.now),
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": txn.total_fen,
            "refund": refund.amount_fen,
            "payer_total": txn.total_fen,
            "payer_refund": refund.amount_fen,
        },
    }


def view(world: World, refund: Refund) -> dict[str, Any]:
    txn = world.state.transactions[refund.transaction_key]
    amount: dict[str, Any] = {"refund": refund.amount_fen, "payer_refund": refund.amount_fen}
    amount |= {"discount_refund": 0, "currency": "CNY"}
    if refund.api == "ecommerce":
        body: dict[str, Any] = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": txn.transaction_id,
            "out_trade_no": txn.out_trade_no,
            "status": refund.status,
            "create_time": rfc3339(refund.create_time),
            "amount": amount,
        }
    else:
        body = {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": txn.transaction_id,
            "out_trade_no": txn.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(refund.create_time),
            "status": refund.status,
            "funds_account": "UNSETTLED" if refund.from_frozen_fen else "AVAILABLE",
            "amount": amount
            | {
                "total": txn.total_fen,
                "payer_total": txn.total_fen,
                "settlement_total": txn.total_fen,
                "settlement_refund": refund.amount_fen,
            },
        }
    if refund.success_time:
        body["success_time"] = rfc3339(refund.success_time)
    return body


def query(world: World, call: Call) -> dict[str, Any]:
    payer = payer_of(world, call, call.query.get("sub_mchid"))
    refund = world.state.refunds.get(key(payer.mchid, call.path["out_refund_no"]))
    if refund is None:
        raise not_found("退款单不存在 / no such refund")
    return view(world, refund)
