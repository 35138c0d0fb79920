"""Split orders (分账): request, query, unfreeze / finish, remaining amount, max ratio, and what
the sandbox clock does to them (payments.md §1.2–1.4, §7 rules 4–13).

A split is accepted as ``PROCESSING`` with every receiver ``PENDING``; its whole amount leaves
the payer's frozen bucket at once (earmarked in ``SPLITTING``), so ``unsplit_amount`` drops at
acceptance. ``split_delay_s`` later each receiver becomes ``SUCCESS`` (the money reaches it) or
``CLOSED`` with a ``fail_reason`` (an injected fault, or its relation deleted meanwhile: the money
goes back to the payer's *available* balance, not to the frozen remainder). An order is
``FINISHED`` when no receiver is pending.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jifen.sandbox._calls import Call, payer_of, require_sp, sp_fields, transaction_by_id
from jifen.sandbox._clock import rfc3339
from jifen.sandbox._receivers import decrypt_name, relation_for
from jifen.sandbox._requests import (
    EcommerceSplitRequest,
    SplitRequest,
    UnfreezeRequest,
    parse,
)
from jifen.sandbox._state import (
    Api,
    Merchant,
    ReceiverType,
    SplitLine,
    SplitOrder,
    Transaction,
    key,
)
from jifen.sandbox._world import (
    World,
    account,
    invalid,
    not_enough,
    not_found,
    param_error,
    person,
)

MAX_RECEIVERS_PER_SPLIT = 50
MAX_SPLITS_PER_TRANSACTION = 50
UNFREEZE_DESCRIPTION = "解冻给分账方"
# (type, account, encrypted name or None, amount_fen, description)
Line = tuple[ReceiverType, str, str | None, int, str]


def create_direct(world: World, call: Call) -> dict[str, Any]:
    req = parse(SplitRequest, call.body)
    payer = payer_of(world, call, req.sub_mchid)
    lines = [(r.type, r.account, r.name, r.amount, r.description) for r in req.receivers]
    order = _create(
        world, call, payer, api="direct", transaction_id=req.transaction_id,
        out_order_no=req.out_order_no, lines=lines, release_rest=req.unfreeze_unsplit,
        appid=req.appid or req.sub_appid,
    )  # fmt: skip
    return order_view(world, order)


def create_ecommerce(world: World, call: Call) -> dict[str, Any]:
    req = parse(EcommerceSplitRequest, call.body)
    payer = payer_of(world, call, req.sub_mchid)
    lines = [
        (r.type, r.receiver_account, r.receiver_name, r.amount, r.description)
        for r in req.receivers
    ]
    order = _create(
        world, call, payer, api="ecommerce", transaction_id=req.transaction_id,
        out_order_no=req.out_order_no, lines=lines, release_rest=req.finish, appid=req.appid,
    )  # fmt: skip
    return order_view(world, order)


def _check_splittable(world: World, txn: Transaction) -> None:
    if txn.trade_state not in ("SUCCESS", "REFUND"):
        raise invalid("订单未支付 / the transaction is not paid")
    if not txn.profit_sharing:  # rule 4
        raise invalid("非分账订单不支持分账 / the order was not paid with profit_sharing=true")
    settles_at = (txn.success_time or world.now) + timedelta(
        seconds=world.state.settings.settle_delay_s
    )
    if world.now < settles_at:  # rule 5
        raise invalid("订单处理中，请稍后重试 / the payment is not settled yet, retry later")
    if txn.finished:  # rules 12–13
        raise not_enough("订单剩余待分金额为0 / the order is unfrozen: nothing left to split")


def _check_lines(
    world: World, call: Call, payer: Merchant, lines: list[Line], api: Api, appid: str | None
) -> None:
    if len(lines) > MAX_RECEIVERS_PER_SPLIT:  # rule 7
        raise invalid("分账接收方不能超过50个 / at most 50 receivers per split request")
    if len({(t, a) for t, a, *_ in lines}) != len(lines):
        raise param_error("分账接收方重复 / a receiver appears twice")
    for type_, account_, name, _amount, _description in lines:
        if account_ == payer.mchid:
            raise invalid("分账接收方不能是分账方自己 / split to yourself with unfreeze instead")
        relation = relation_for(world, payer.mchid, type_, account_, ecommerce=api == "ecommerce")
        if relation is None:  # rule 6
            raise invalid("分账接收方关系不存在 / the receiver was not added for this payer")
        if type_ != "MERCHANT_ID" and not appid:
            raise param_error("含个人接收方时须提供 appid / a person receiver needs the appid")
        if name is not None and decrypt_name(world, call, name) != relation.name:
            raise invalid("分账接收方姓名或全称不匹配 / the receiver's name does not match")


def _create(
    world: World,
    call: Call,
    payer: Merchant,
    *,
    api: Api,
    transaction_id: str,
    out_order_no: str,
    lines: list[Line],
    release_rest: bool,
    appid: str | None,
) -> SplitOrder:
    order_key = key(payer.mchid, out_order_no)
    existing = world.state.splits.get(order_key)
    if existing is not None:  # rule 11: the first result, and no second movement
        return existing
    txn = transaction_by_id(world.state, payer, transaction_id)
    _check_splittable(world, txn)
    if txn.split_requests >= MAX_SPLITS_PER_TRANSACTION:  # rule 7
        raise invalid("分账请求次数超过50次 / at most 50 split requests per transaction")
    _check_lines(world, call, payer, lines, api, appid)
    total = sum(amount for *_, amount, _ in lines)
    cap = txn.total_fen * payer.max_ratio_bp // 10000
    if txn.split_to_others_fen + total > cap:  # rule 8
        raise invalid("分账金额超出最大分账比例 / the split exceeds the maximum ratio")
    if total > txn.unsplit_fen:  # rule 9
        raise not_enough("分账金额超过剩余待分金额 / more than the unsplit amount")
    rest = txn.unsplit_fen - total if release_rest else 0
    order = _new_order(world, payer, api, txn, out_order_no, "split")
    for type_, account_, _name, amount, description in lines:
        order.lines.append(_line(world, type_, account_, amount, description))
    if rest:
        order.lines.append(_line(world, "MERCHANT_ID", payer.mchid, rest, UNFREEZE_DESCRIPTION))
        order.lines[-1].unfreeze = True
        order.finish_description = UNFREEZE_DESCRIPTION
    _hold(world, txn, order, total + rest)
    txn.split_to_others_fen += total
    txn.split_requests += 1
    txn.finished = release_rest
    return order


def _new_order(
    world: World, payer: Merchant, api: Api, txn: Transaction, out_order_no: str, kind: Any
) -> SplitOrder:
    order = SplitOrder(
        key=key(payer.mchid, out_order_no), order_id=world.next_number("3000", 16),
        out_order_no=out_order_no, transaction_id=txn.transaction_id or "",
        payer_mchid=payer.mchid, api=api, kind=kind, lines=[], created_at=world.now,
        due_at=world.now + timedelta(seconds=world.state.settings.split_delay_s),
    )  # fmt: skip
    world.state.splits[order.key] = order
    world.state.split_ids[order.order_id] = order.key
    return order


def _line(
    world: World, type_: ReceiverType, account_: str, amount: int, description: str
) -> SplitLine:
    return SplitLine(
        type=type_, account=account_, amount_fen=amount, description=description,
        detail_id=world.next_number("3601", 11), create_time=world.now,
    )  # fmt: skip


def _hold(world: World, txn: Transaction, order: SplitOrder, amount_fen: int) -> None:
    if amount_fen:
        refs = {"transaction_id": txn.transaction_id or "", "out_order_no": order.out_order_no}
        frozen, splitting = (
            account(txn.payer_mchid, "FROZEN"),
            account(txn.payer_mchid, "SPLITTING"),
        )
        world.move("split_hold", frozen, splitting, amount_fen, **refs)
        txn.unsplit_fen -= amount_fen
    world.schedule("split", order.key, at=order.due_at)


def unfreeze(world: World, call: Call, *, api: Api) -> dict[str, Any]:
    """解冻剩余资金 / 完结分账: release the whole remainder to the payer (rule 12)."""
    req = parse(UnfreezeRequest, call.body)
    if api == "ecommerce" and not req.sub_mchid:
        raise param_error("缺少 sub_mchid / sub_mchid is required")
    payer = payer_of(world, call, req.sub_mchid)
    order = world.state.splits.get(key(payer.mchid, req.out_order_no))
    if order is None:
        txn = transaction_by_id(world.state, payer, req.transaction_id)
        _check_splittable(world, txn)
        if txn.unsplit_fen == 0:
            raise not_enough("订单剩余待分金额为0 / nothing is left to unfreeze")
        order = _new_order(world, payer, api, txn, req.out_order_no, "unfreeze")
        line = _line(world, "MERCHANT_ID", payer.mchid, txn.unsplit_fen, UNFREEZE_DESCRIPTION)
        line.unfreeze = True
        order.lines.append(line)
        order.finish_description = req.description
        _hold(world, txn, order, line.amount_fen)
        txn.finished = True
    if api == "ecommerce":
        fields = ("sub_mchid", "transaction_id", "out_order_no", "order_id")
        return {k: v for k, v in order_view(world, order).items() if k in fields}
    return order_view(world, order)


def order_view(world: World, order: SplitOrder, api: Api | None = None) -> dict[str, Any]:
    """The order as the API that asks shows it (a direct split queried on the 平台收付通 path
    answers in that API's names)."""
    payer = world.state.merchants[order.payer_mchid]
    head = {"transaction_id": order.transaction_id, "out_order_no": order.out_order_no}
    head["order_id"] = order.order_id
    if (api or order.api) == "ecommerce":
        return _ecommerce_view(order, {"sub_mchid": payer.mchid} | head)
    receivers = []
    for line in order.lines:
        entry: dict[str, Any] = {
            "amount": line.amount_fen, "description": line.description, "type": line.type,
            "account": line.account, "result": line.result, "detail_id": line.detail_id,
            "create_time": rfc3339(line.create_time),
        }  # fmt: skip
        if line.fail_reason:
            entry["fail_reason"] = line.fail_reason
        if line.finish_time:
            entry["finish_time"] = rfc3339(line.finish_time)
        receivers.append(entry)
    return sp_fields(payer) | head | {"state": order.state, "receivers": receivers}


def _ecommerce_view(order: SplitOrder, head: dict[str, Any]) -> dict[str, Any]:
    receivers = []
    for line in order.lines:
        if line.unfreeze:
            continue
        entry: dict[str, Any] = {
            "amount": line.amount_fen, "description": line.description, "result": line.result,
            "type": line.type, "receiver_account": line.account, "detail_id": line.detail_id,
        }  # fmt: skip
        if line.type == "MERCHANT_ID":
            entry["receiver_mchid"] = line.account
        if line.finish_time:
            entry["finish_time"] = rfc3339(line.finish_time)
        if line.fail_reason:
            entry["fail_reason"] = line.fail_reason
        receivers.append(entry)
    body = head | {"status": order.state, "receivers": receivers}
    released = sum(line.amount_fen for line in order.lines if line.unfreeze)
    if released:
        body |= {"finish_amount": released, "finish_description": order.finish_description}
    return body


def query(world: World, call: Call, *, api: Api) -> dict[str, Any]:
    if api == "ecommerce":
        out_order_no = call.query.get("out_order_no", "")
        if not call.query.get("sub_mchid"):
            raise param_error("缺少 sub_mchid / sub_mchid is required")
    else:
        out_order_no = call.path["out_order_no"]
    transaction_id = call.query.get("transaction_id")
    if not transaction_id or not out_order_no:
        raise param_error("须提供 transaction_id 与 out_order_no / name both numbers")
    payer = payer_of(world, call, call.query.get("sub_mchid"))
    order = world.state.splits.get(key(payer.mchid, out_order_no))
    if order is None or order.transaction_id != transaction_id:
        raise not_found("记录不存在 / no such split order")
    return order_view(world, order, api)


def amounts(world: World, call: Call) -> dict[str, Any]:
    transaction_id = call.path["transaction_id"]
    found = world.state.transaction_ids.get(transaction_id)
    txn = world.state.transactions.get(found) if found else None
    if txn is None or call.caller.mchid not in (txn.payer_mchid, txn.api_mchid):
        raise not_found("订单不存在 / no such transaction")
    return {"transaction_id": transaction_id, "unsplit_amount": txn.unsplit_fen}


def merchant_config(world: World, call: Call) -> dict[str, Any]:
    require_sp(call)
    sub = payer_of(world, call, call.path["sub_mchid"])
    return {"sub_mchid": sub.mchid, "max_ratio": sub.max_ratio_bp}


# -- the sandbox clock ----------------------------------------------------------------------
def resolve(world: World, order_key: str) -> None:
    """The scheduled end of a split or unfreeze order (rule 10)."""
    order = world.state.splits[order_key]
    txn = world.state.transactions[world.state.transaction_ids[order.transaction_id]]
    refs = {"transaction_id": order.transaction_id, "out_order_no": order.out_order_no}
    splitting = account(order.payer_mchid, "SPLITTING")
    payer_available = account(order.payer_mchid, "AVAILABLE")
    for line in order.lines:
        if line.result != "PENDING":
            continue
        line.finish_time = world.now
        if line.unfreeze:
            line.result = "SUCCESS"
            world.move("unfreeze", splitting, payer_available, line.amount_fen, **refs)
            continue
        reason = world.state.faults.closed_receivers.get(line.account)
        ecommerce = order.api == "ecommerce"
        if reason is None and not relation_for(
            world, order.payer_mchid, line.type, line.account, ecommerce=ecommerce
        ):
            reason = "NO_RELATION"
        if reason is not None:
            line.result, line.fail_reason = "CLOSED", reason
            world.move("split_closed", splitting, payer_available, line.amount_fen, **refs)
            txn.split_to_others_fen -= line.amount_fen
            continue
        line.result = "SUCCESS"
        to = (
            account(line.account, "AVAILABLE")
            if line.type == "MERCHANT_ID"
            else person(line.account)
        )
        world.move("split", splitting, to, line.amount_fen, **refs, detail_id=line.detail_id)
        _notify_receiver(world, order, line, "PROFITSHARING.SUCCESS")
    order.state = "FINISHED"


def _notify_receiver(world: World, order: SplitOrder, line: SplitLine, event_type: str) -> None:
    """分账动账通知: only to a MERCHANT_ID receiver that configured a URL."""
    receiver = world.merchant(line.account) if line.type == "MERCHANT_ID" else None
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
        "receiver": {"type": line.type, "account": line.account, "amount": line.amount_fen,
                     "description": line.description},
        "success_time": rfc3339(world.now),
    }  # fmt: skip
    world.notify(
        url=receiver.profitsharing_notify_url, target_mchid=receiver.mchid,
        apiv3_key=world.api_key_of(receiver.mchid), event_type=event_type,
        summary="分账动账通知", original_type="profitsharing", resource=resource,
    )  # fmt: skip


def auto_unfreeze(world: World, txn_key: str) -> None:
    """The freeze window is over (rule 13): the system releases the remainder to the payer."""
    txn = world.state.transactions[txn_key]
    if txn.finished:
        return
    txn.finished = True
    if txn.unsplit_fen == 0:
        return
    payer = world.state.merchants[txn.payer_mchid]
    order = _new_order(
        world, payer, "direct", txn, f"SYSTEM-UNFREEZE-{txn.transaction_id}", "unfreeze"
    )
    order.initiator, order.state = "SYSTEM", "FINISHED"
    order.finish_description = "冻结期满自动解冻 / freeze window ended"
    line = _line(world, "MERCHANT_ID", payer.mchid, txn.unsplit_fen, UNFREEZE_DESCRIPTION)
    line.unfreeze, line.result, line.finish_time = True, "SUCCESS", world.now
    order.lines.append(line)
    refs = {"transaction_id": txn.transaction_id or "", "out_order_no": order.out_order_no}
    frozen, available = account(payer.mchid, "FROZEN"), account(payer.mchid, "AVAILABLE")
    world.move("unfreeze", frozen, available, line.amount_fen, **refs)
    txn.unsplit_fen = 0
