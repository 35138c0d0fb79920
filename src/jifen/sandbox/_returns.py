"""Split returns (分账回退, payments.md §1.2 and §6, rules 14–16): a MERCHANT_ID receiver gives
back, to the payer's available balance, money it received from one split order.

A return names the split order (``order_id`` or ``out_order_no``) and the receiver
(``return_mchid``); the receiver must have received from that order (``SUCCESS``), the returns
per (order, receiver) may not add up to more than it received, and the return must come within
``return_window_days`` (180) of the split. If the receiver's balance is short (or the fault switch
``return_balance_short`` names it) the return stays ``PROCESSING``; the sandbox retries every
``return_retry_s`` and, ``return_timeout_days`` (5) after it was made, closes it ``FAILED`` with
``TIME_OUT_CLOSED``. Retry a closed one with a new ``out_return_no``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jifen.sandbox._calls import Call, payer_of
from jifen.sandbox._clock import rfc3339
from jifen.sandbox._requests import ReturnRequest, parse
from jifen.sandbox._state import Api, ReturnOrder, SplitOrder, key
from jifen.sandbox._world import World, account, invalid, not_found, param_error

MAX_RETURNS_PER_RECEIVER = 20


def create(world: World, call: Call, *, api: Api) -> dict[str, Any]:
    req = parse(ReturnRequest, call.body)
    if api == "ecommerce" and not req.sub_mchid:
        raise param_error("缺少 sub_mchid / sub_mchid is required")
    payer = payer_of(world, call, req.sub_mchid)
    return_key = key(payer.mchid, req.out_return_no)
    existing = world.state.returns.get(return_key)
    if existing is not None:  # rule 16: the same number is the same return
        return view(world, existing)
    order = _split_order(world, payer.mchid, req.order_id, req.out_order_no)
    index = _receiver_line(order, req.return_mchid)
    line = order.lines[index]
    if line.returned_fen + req.amount > line.amount_fen:  # rule 15
        raise invalid("回退金额超过分账金额 / returns would exceed what the receiver got")
    window = timedelta(days=world.state.settings.return_window_days)
    if world.now > (line.finish_time or line.create_time) + window:  # rule 15
        raise invalid("已超过分账回退期限 / the 180-day return window has closed")
    if line.returns >= MAX_RETURNS_PER_RECEIVER:
        raise invalid("回退次数超过上限 / at most 20 returns per receiver and split")
    ret = ReturnOrder(
        key=return_key, return_id=world.next_number("3005", 16), out_return_no=req.out_return_no,
        order_key=order.key, line_index=index, payer_mchid=payer.mchid,
        return_mchid=req.return_mchid, amount_fen=req.amount, description=req.description,
        api=api, create_time=world.now,
    )  # fmt: skip
    world.state.returns[return_key] = ret
    line.returned_fen += req.amount
    line.returns += 1
    attempt(world, return_key)
    return view(world, ret)


def _split_order(
    world: World, payer_mchid: str, order_id: str | None, out_order_no: str | None
) -> SplitOrder:
    if order_id:
        found = world.state.split_ids.get(order_id)
        order = world.state.splits.get(found) if found else None
    elif out_order_no:
        order = world.state.splits.get(key(payer_mchid, out_order_no))
    else:
        raise param_error("须提供 order_id 或 out_order_no / name the split order")
    if order is None or order.payer_mchid != payer_mchid or order.kind != "split":
        raise not_found("分账单不存在 / no such split order")
    return order


def _receiver_line(order: SplitOrder, return_mchid: str) -> int:
    """The line of ``order`` that paid ``return_mchid`` (rule 14)."""
    for index, line in enumerate(order.lines):
        if line.account != return_mchid or line.unfreeze:
            continue
        if line.type != "MERCHANT_ID":
            raise invalid("只支持回退商户类型的接收方 / only MERCHANT_ID receivers can return")
        if line.result != "SUCCESS":
            break
        return index
    raise invalid("回退方不是该分账单的成功接收方 / return_mchid did not receive from this split")


def attempt(world: World, return_key: str) -> None:
    """Try to move a PROCESSING return's money; retry later, or time out."""
    ret = world.state.returns[return_key]
    if ret.result != "PROCESSING":
        return
    source = account(ret.return_mchid, "AVAILABLE")
    short = ret.return_mchid in world.state.faults.return_balance_short
    if not short and world.balance(source) >= ret.amount_fen:
        order = world.state.splits[ret.order_key]
        refs = {"out_order_no": order.out_order_no, "out_return_no": ret.out_return_no}
        refs["transaction_id"] = order.transaction_id
        payer_available = account(ret.payer_mchid, "AVAILABLE")
        world.move("split_return", source, payer_available, ret.amount_fen, **refs)
        ret.result, ret.finish_time = "SUCCESS", world.now
        _notify(world, order, ret)
        return
    deadline = ret.create_time + timedelta(days=world.state.settings.return_timeout_days)
    if world.now >= deadline:
        ret.result, ret.fail_reason, ret.finish_time = "FAILED", "TIME_OUT_CLOSED", world.now
        line = world.state.splits[ret.order_key].lines[ret.line_index]
        line.returned_fen -= ret.amount_fen
        return
    retry_at = min(deadline, world.now + timedelta(seconds=world.state.settings.return_retry_s))
    world.schedule("return_retry", return_key, at=retry_at)


def _notify(world: World, order: SplitOrder, ret: ReturnOrder) -> None:
    receiver = world.merchant(ret.return_mchid)
    if receiver is None or not receiver.profitsharing_notify_url:
        return
    payer = world.state.merchants[order.payer_mchid]
    who = (
        {"sp_mchid": payer.sp_mchid, "sub_mchid": payer.mchid}
        if payer.kind == "sub_merchant"
        else {"mchid": payer.mchid}
    )
    resource = who | {
        "transaction_id": order.transaction_id, "order_id": order.order_id,
        "out_order_no": order.out_order_no,
        "receiver": {"type": "MERCHANT_ID", "account": ret.return_mchid,
                     "amount": ret.amount_fen, "description": ret.description},
        "success_time": rfc3339(world.now),
    }  # fmt: skip
    world.notify(
        url=receiver.profitsharing_notify_url, target_mchid=receiver.mchid,
        apiv3_key=world.api_key_of(receiver.mchid), event_type="PROFITSHARING.RETURN",
        summary="分账回退通知", original_type="profitsharing", resource=resource,
    )  # fmt: skip


def view(world: World, ret: ReturnOrder) -> dict[str, Any]:
    order = world.state.splits[ret.order_key]
    payer = world.state.merchants[ret.payer_mchid]
    body: dict[str, Any] = {"sub_mchid": payer.mchid} if payer.kind == "sub_merchant" else {}
    body |= {
        "order_id": order.order_id, "out_order_no": order.out_order_no,
        "out_return_no": ret.out_return_no, "return_id": ret.return_id,
        "return_mchid": ret.return_mchid, "amount": ret.amount_fen,
        "description": ret.description, "result": ret.result,
        "create_time": rfc3339(ret.create_time),
    }  # fmt: skip
    if ret.fail_reason:
        body["fail_reason"] = ret.fail_reason
    if ret.finish_time:
        body["finish_time"] = rfc3339(ret.finish_time)
    return body


def query(world: World, call: Call, *, api: Api) -> dict[str, Any]:
    """Direct: ``/return-orders/{out_return_no}?out_order_no=`` (the SDK sends ``?&…``);
    平台收付通: ``/returnorders?sub_mchid=&out_return_no=&out_order_no=``."""
    if api == "ecommerce":
        out_return_no = call.query.get("out_return_no", "")
    else:
        out_return_no = call.path["out_return_no"]
    out_order_no, order_id = call.query.get("out_order_no"), call.query.get("order_id")
    if not out_return_no or not (out_order_no or order_id):
        raise param_error("须提供 out_return_no 与 out_order_no / name both numbers")
    payer = payer_of(world, call, call.query.get("sub_mchid"))
    ret = world.state.returns.get(key(payer.mchid, out_return_no))
    order = world.state.splits.get(ret.order_key) if ret else None
    if (
        ret is None
        or order is None
        or (out_order_no or order_id)
        not in (
            order.out_order_no,
            order.order_id,
        )
    ):
        raise not_found("回退单不存在 / no such return")
    return view(world, ret)
