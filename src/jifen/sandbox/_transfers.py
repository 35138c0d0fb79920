"""Money the platform pays out that is not a split: two arrangements, named for what they are.

**商家转账 (WeChat's merchant transfer to a person's 零钱), ``/v3/transfer/batches``.** A direct
merchant (in the default alliance: the operator's own account, paying promoters' referral rewards
from its revenue) pays persons by openid. Accepted as ``ACCEPTED``; ``transfer_delay_s`` later
every detail is ``SUCCESS`` and the batch ``FINISHED``. Real WeChat pays these from a separate
运营账户; the sandbox pays them from the merchant's available balance.

**Depository payout (资金存管), ``/depository/v1/payouts`` — not a WeChat API.** WeChat has no
merchant-to-merchant transfer for ordinary merchants. The points reserve is a MERCHANT_ID receiver
whose balance is swept to a depository account at a bank; the bank pays a redeeming merchant's
settlement account when the platform (the reserve's ``controller_mchid``) instructs it. The sandbox
collapses the sweep and the bank transfer into one movement, reserve → ``<payee>:BANK``, signed
and answered in WeChat's style so one client can speak to both.
"""

from __future__ import annotations

from typing import Any

from jifen.sandbox._calls import Call
from jifen.sandbox._clock import rfc3339
from jifen.sandbox._receivers import decrypt_name
from jifen.sandbox._requests import PayoutRequest, TransferBatchRequest, parse
from jifen.sandbox._state import Payout, TransferBatch, TransferDetail, key
from jifen.sandbox._world import (
    World,
    account,
    invalid,
    not_enough,
    not_found,
    param_error,
    person,
    refuse,
)

NAME_REQUIRED_FROM_FEN = 200_000  # ≥ ¥2,000 a transfer must carry the payee's real name


def create_batch(world: World, call: Call) -> dict[str, Any]:
    req = parse(TransferBatchRequest, call.body)
    caller = call.caller
    if caller.kind != "direct":
        raise refuse(403, "NO_AUTH", "商家转账仅限直连商户 / merchant transfers: direct merchants")
    batch_key = key(caller.mchid, req.out_batch_no)
    existing = world.state.transfers.get(batch_key)
    if existing is not None:
        return _accepted(existing)
    details = req.transfer_detail_list
    if req.total_num != len(details) or req.total_amount != sum(d.transfer_amount for d in details):
        raise param_error("total_num/total_amount 与明细不符 / totals do not match the details")
    if len({d.out_detail_no for d in details}) != len(details):
        raise param_error("out_detail_no 重复 / a detail number appears twice")
    names = {}
    for d in details:
        if d.transfer_amount >= NAME_REQUIRED_FROM_FEN and not d.user_name:
            raise param_error("转账金额≥2000元须填 user_name / a transfer ≥ ¥2,000 needs the name")
        if d.user_name:
            names[d.out_detail_no] = decrypt_name(world, call, d.user_name)
    if req.total_amount > world.balance(account(caller.mchid, "AVAILABLE")):
        raise not_enough("商户余额不足 / the merchant's balance is short")
    batch = TransferBatch(
        key=batch_key, batch_id=world.next_number("1030", 20), out_batch_no=req.out_batch_no,
        mchid=caller.mchid, appid=req.appid, name=req.batch_name, remark=req.batch_remark,
        total_fen=req.total_amount, notify_url=req.notify_url, scene_id=req.transfer_scene_id,
        details=[
            TransferDetail(
                out_detail_no=d.out_detail_no, detail_id=world.next_number("1040", 20),
                amount_fen=d.transfer_amount, remark=d.transfer_remark, openid=d.openid,
                user_name=names.get(d.out_detail_no), update_time=world.now,
            )
            for d in details
        ],
        create_time=world.now, update_time=world.now,
    )  # fmt: skip
    refs = {"out_batch_no": batch.out_batch_no}
    held = account(caller.mchid, "TRANSFERRING")
    world.move("transfer_hold", account(caller.mchid, "AVAILABLE"), held, batch.total_fen, **refs)
    world.state.transfers[batch_key] = batch
    world.schedule("transfer", batch_key, delay_s=world.state.settings.transfer_delay_s)
    return _accepted(batch)


def _accepted(batch: TransferBatch) -> dict[str, Any]:
    return {
        "out_batch_no": batch.out_batch_no,
        "batch_id": batch.batch_id,
        "create_time": rfc3339(batch.create_time),
        "batch_status": batch.status,
    }


def finish_batch(world: World, batch_key: str) -> None:
    batch = world.state.transfers[batch_key]
    held = account(batch.mchid, "TRANSFERRING")
    for detail in batch.details:
        refs = {"out_batch_no": batch.out_batch_no, "out_detail_no": detail.out_detail_no}
        world.move("mch_transfer", held, person(detail.openid), detail.amount_fen, **refs)
        detail.status, detail.update_time = "SUCCESS", world.now
    batch.status, batch.update_time = "FINISHED", world.now
    resource = {
        "mchid": batch.mchid, "out_batch_no": batch.out_batch_no, "batch_id": batch.batch_id,
        "batch_status": batch.status, "total_num": len(batch.details),
        "total_amount": batch.total_fen, "success_amount": batch.total_fen,
        "success_num": len(batch.details), "fail_amount": 0, "fail_num": 0,
        "update_time": rfc3339(world.now),
    }  # fmt: skip
    world.notify(
        url=batch.notify_url, target_mchid=batch.mchid, apiv3_key=world.api_key_of(batch.mchid),
        event_type="MCHTRANSFER.BATCH.FINISHED", summary="商家转账批次完成",
        original_type="mch_payment", resource=resource,
    )  # fmt: skip


def _batch_of(world: World, call: Call) -> TransferBatch:
    if "out_batch_no" in call.path:
        batch = world.state.transfers.get(key(call.caller.mchid, call.path["out_batch_no"]))
    else:
        batch = next(
            (b for b in world.state.transfers.values() if b.batch_id == call.path["batch_id"]),
            None,
        )
    if batch is None or batch.mchid != call.caller.mchid:
        raise not_found("转账批次单不存在 / no such transfer batch")
    return batch


def query_batch(world: World, call: Call) -> dict[str, Any]:
    batch = _batch_of(world, call)
    done = [d for d in batch.details if d.status == "SUCCESS"]
    failed = [d for d in batch.details if d.status == "FAIL"]
    head = {
        "mchid": batch.mchid, "out_batch_no": batch.out_batch_no, "batch_id": batch.batch_id,
        "appid": batch.appid, "batch_status": batch.status, "batch_type": "API",
        "batch_name": batch.name, "batch_remark": batch.remark, "total_amount": batch.total_fen,
        "total_num": len(batch.details), "create_time": rfc3339(batch.create_time),
        "update_time": rfc3339(batch.update_time),
        "success_amount": sum(d.amount_fen for d in done), "success_num": len(done),
        "fail_amount": sum(d.amount_fen for d in failed), "fail_num": len(failed),
    }  # fmt: skip
    if batch.scene_id:
        head["transfer_scene_id"] = batch.scene_id
    body: dict[str, Any] = {"transfer_batch": head}
    if call.query.get("need_query_detail") == "true":
        wanted = call.query.get("detail_status", "ALL")
        offset, limit = _int(call.query, "offset", 0), _int(call.query, "limit", 20)
        rows = [d for d in batch.details if wanted == "ALL" or d.status == wanted]
        body["transfer_detail_list"] = [
            {"detail_id": d.detail_id, "out_detail_no": d.out_detail_no, "detail_status": d.status}
            for d in rows[offset : offset + limit]
        ]
    return body


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError:
        raise param_error(f"{name} 须为整数 / {name} must be an integer") from None
    if value < 0 or (name == "limit" and not 1 <= value <= 100):
        raise param_error(f"{name} 超出范围 / {name} is out of range")
    return value


def query_detail(world: World, call: Call) -> dict[str, Any]:
    batch = _batch_of(world, call)
    detail = next(
        (
            d
            for d in batch.details
            if call.path.get("out_detail_no") in (None, d.out_detail_no)
            and call.path.get("detail_id") in (None, d.detail_id)
        ),
        None,
    )
    if detail is None:
        raise not_found("转账明细单不存在 / no such transfer detail")
    body = {
        "mchid": batch.mchid, "out_batch_no": batch.out_batch_no, "batch_id": batch.batch_id,
        "appid": batch.appid, "out_detail_no": detail.out_detail_no,
        "detail_id": detail.detail_id, "detail_status": detail.status,
        "transfer_amount": detail.amount_fen, "transfer_remark": detail.remark,
        "openid": detail.openid, "initiate_time": rfc3339(batch.create_time),
        "update_time": rfc3339(detail.update_time),
    }  # fmt: skip
    return body


# -- depository payouts (资金存管) ------------------------------------------------------------
def create_payout(world: World, call: Call) -> dict[str, Any]:
    req = parse(PayoutRequest, call.body)
    reserve = world.merchant(req.payer_mchid)
    if reserve is None or reserve.role != "reserve":
        raise invalid("payer_mchid 不是存管的备付金账户 / payer_mchid is not the reserve")
    if reserve.controller_mchid != call.caller.mchid:
        raise refuse(403, "NO_AUTH", "无权指令该存管账户 / not this depository's controller")
    payout_key = key(reserve.mchid, req.out_payout_no)
    existing = world.state.payouts.get(payout_key)
    if existing is not None:
        return payout_view(existing)
    payee = world.merchant(req.payee_mchid)
    if payee is None or payee.role not in ("merchant", "operator"):
        raise invalid("收款方须为联盟商户或运营方 / the payee is not a merchant of the alliance")
    if req.amount > world.balance(account(reserve.mchid, "AVAILABLE")):
        raise not_enough("备付金余额不足 / the reserve's balance is short")
    payout = Payout(
        key=payout_key, payout_id=world.next_number("7700", 16), out_payout_no=req.out_payout_no,
        payer_mchid=reserve.mchid, payee_mchid=payee.mchid, amount_fen=req.amount,
        description=req.description, create_time=world.now,
    )  # fmt: skip
    world.move(
        "depository_payout",
        account(reserve.mchid, "AVAILABLE"),
        account(payee.mchid, "BANK"),
        req.amount,
        out_payout_no=req.out_payout_no,
    )
    world.state.payouts[payout_key] = payout
    return payout_view(payout)


def payout_view(payout: Payout) -> dict[str, Any]:
    return {
        "out_payout_no": payout.out_payout_no,
        "payout_id": payout.payout_id,
        "payer_mchid": payout.payer_mchid,
        "payee_mchid": payout.payee_mchid,
        "amount": payout.amount_fen,
        "description": payout.description,
        "state": "SUCCESS",
        "create_time": rfc3339(payout.create_time),
        "success_time": rfc3339(payout.create_time),
    }


def query_payout(world: World, call: Call) -> dict[str, Any]:
    payer_mchid = call.query.get("payer_mchid", "")
    payout = world.state.payouts.get(key(payer_mchid, call.path["out_payout_no"]))
    reserve = world.merchant(payer_mchid)
    if payout is None or reserve is None or reserve.controller_mchid != call.caller.mchid:
        raise not_found("存管付款单不存在 / no such depository payout")
    return payout_view(payout)
