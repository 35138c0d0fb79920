"""Payments: create (JSAPI, Native; direct and service-provider paths), query, close, and the
customer paying (the control API's ``POST /sandbox/pay``, the one thing no merchant can do).

When the customer pays, the whole amount reaches the payer merchant: into its **frozen** bucket
if the order was created with ``settle_info.profit_sharing=true`` (splittable, for the freeze
window), else straight into its available balance. WeChat's processing fee is taken at once:
``fee = round_half_up(total × fee_rate_bp / 10000)`` fen (default 60 bp = 0.60 %), so the
splittable remainder starts at ``total − fee``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from jifen.sandbox._calls import Call, payer_of
from jifen.sandbox._clock import rfc3339
from jifen.sandbox._requests import Payer, PayRequest, parse
from jifen.sandbox._state import Merchant, Transaction, key
from jifen.sandbox._world import FEES, World, account, invalid, param_error, person, refuse
from jifen.sandbox.errors import ControlRefused, SandboxNotFound

TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
}


def fee_of(total_fen: int, rate_bp: int) -> int:
    """WeChat's fee: the rate applied to the order, rounded half up to the fen."""
    return (total_fen * rate_bp + 5000) // 10000


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise param_error("time_expire 须为 RFC 3339 时间 / time_expire is not RFC 3339") from None
    if when.tzinfo is None:
        raise param_error("time_expire 须带时区 / time_expire needs an offset")
    return when


def _check_notify_url(url: str) -> None:
    if not url.startswith(("http://", "https://")) or "?" in url:
        raise param_error("notify_url 须为不带参数的 http(s) 地址 / notify_url: http(s), no query")


def create(world: World, call: Call, *, partner: bool, trade_type: str) -> dict[str, Any]:
    req = parse(PayRequest, call.body)
    payer = _payer_for_create(world, call, req, partner=partner)
    payer_ids = req.payer or Payer()
    openid = (payer_ids.sp_openid or payer_ids.sub_openid) if partner else payer_ids.openid
    if trade_type == "JSAPI" and not openid:
        raise param_error("JSAPI 下单须提供 payer / JSAPI needs the payer's openid")
    _check_notify_url(req.notify_url)
    digest = hashlib.sha256(json.dumps(call.body, sort_keys=True).encode()).hexdigest()
    txn_key = key(payer.mchid, req.out_trade_no)
    existing = world.state.transactions.get(txn_key)
    if existing is not None:
        return _replay_create(existing, digest)
    txn = Transaction(
        key=txn_key, api_mchid=call.caller.mchid, payer_mchid=payer.mchid, partner=partner,
        appid=(req.sp_appid if partner else req.appid) or "", sub_appid=req.sub_appid,
        out_trade_no=req.out_trade_no, trade_type=trade_type,  # type: ignore[arg-type]
        description=req.description, attach=req.attach, notify_url=req.notify_url,
        total_fen=req.amount.total,
        profit_sharing=bool(req.settle_info and req.settle_info.profit_sharing),
        openid=openid, created_at=world.now, time_expire=_expiry(req.time_expire),
        request_digest=digest, prepay_id="wx" + secrets.token_hex(16),
    )  # fmt: skip
    world.state.transactions[txn_key] = txn
    return _created(txn)


def _payer_for_create(world: World, call: Call, req: PayRequest, *, partner: bool) -> Merchant:
    caller = call.caller
    if partner:
        if caller.kind != "service_provider" or req.sp_mchid != caller.mchid:
            raise invalid("sp_mchid 与签名商户不一致 / sp_mchid is not the signing merchant")
        if not req.sp_appid:
            raise param_error("缺少 sp_appid / sp_appid is required")
        payer = payer_of(world, call, req.sub_mchid)
    else:
        if caller.kind != "direct" or req.mchid != caller.mchid:
            raise invalid("mchid 与签名商户不一致 / mchid is not the signing direct merchant")
        if not req.appid:
            raise param_error("缺少 appid / appid is required")
        payer = caller
    if payer.role != "merchant":
        raise invalid(
            "沙箱：平台自有账户（运营方、备付金）不收顾客款项 / the platform's own accounts "
            "(operator, reserve) take no customer payments (二清 guard)"
        )
    return payer


def _replay_create(txn: Transaction, digest: str) -> dict[str, Any]:
    if txn.trade_state in ("SUCCESS", "REFUND"):
        raise refuse(400, "ORDERPAID", "订单已支付 / the order is paid")
    if txn.trade_state == "CLOSED":
        raise refuse(400, "ORDER_CLOSED", "订单已关闭 / the order is closed")
    if txn.request_digest != digest:
        raise refuse(
            403, "OUT_TRADE_NO_USED", "商户订单号重复 / out_trade_no used with other terms"
        )
    return _created(txn)


def _created(txn: Transaction) -> dict[str, Any]:
    if txn.trade_type == "NATIVE":
        return {"code_url": f"weixin://wxpay/bizpayurl?pr={txn.prepay_id[2:14]}"}
    return {"prepay_id": txn.prepay_id}


def transaction_view(world: World, txn: Transaction) -> dict[str, Any]:
    """The transaction as query answers and TRANSACTION.SUCCESS callbacks show it."""
    body: dict[str, Any] = {}
    if txn.partner:
        body |= {"sp_appid": txn.appid, "sp_mchid": txn.api_mchid, "sub_mchid": txn.payer_mchid}
        if txn.sub_appid:
            body["sub_appid"] = txn.sub_appid
    else:
        body |= {"appid": txn.appid, "mchid": txn.payer_mchid}
    body |= {
        "out_trade_no": txn.out_trade_no,
        "trade_type": txn.trade_type,
        "trade_state": txn.trade_state,
        "trade_state_desc": TRADE_STATE_DESC[txn.trade_state],
        "amount": {"total": txn.total_fen, "currency": "CNY"},
    }
    if txn.attach:
        body["attach"] = txn.attach
    if txn.transaction_id:
        body |= {
            "transaction_id": txn.transaction_id,
            "bank_type": "OTHERS",
            "success_time": rfc3339(txn.success_time or world.now),
            "payer": {"sp_openid": txn.openid} if txn.partner else {"openid": txn.openid},
        }
        body["amount"] |= {"payer_total": txn.total_fen, "payer_currency": "CNY"}
    return body


def _find(
    world: World, call: Call, *, partner: bool, merchant_field: Any, sub_mchid: Any
) -> Transaction:
    """The order a query or close names, checked against the signing merchant."""
    if merchant_field != call.caller.mchid:
        name = "sp_mchid" if partner else "mchid"
        raise param_error(f"{name} 与签名商户不一致 / {name} is not the signing merchant")
    payer = payer_of(world, call, sub_mchid if partner else None)
    if "transaction_id" in call.path:
        found = world.state.transaction_ids.get(call.path["transaction_id"])
        txn = world.state.transactions.get(found) if found else None
    else:
        txn = world.state.transactions.get(key(payer.mchid, call.path["out_trade_no"]))
    if txn is None or txn.payer_mchid != payer.mchid:
        raise refuse(404, "ORDER_NOT_EXIST", "订单不存在 / no such order")
    return txn


def query(world: World, call: Call, *, partner: bool) -> dict[str, Any]:
    merchant_field = call.query.get("sp_mchid" if partner else "mchid")
    sub = call.query.get("sub_mchid")
    txn = _find(world, call, partner=partner, merchant_field=merchant_field, sub_mchid=sub)
    return transaction_view(world, txn)


def close(world: World, call: Call, *, partner: bool) -> None:
    body = call.body if isinstance(call.body, dict) else {}
    merchant_field = body.get("sp_mchid" if partner else "mchid")
    sub = body.get("sub_mchid")
    txn = _find(world, call, partner=partner, merchant_field=merchant_field, sub_mchid=sub)
    if txn.trade_state in ("SUCCESS", "REFUND"):
        raise refuse(400, "ORDERPAID", "订单已支付 / the order is paid")
    txn.trade_state = "CLOSED"


# -- the customer pays (control API) ----------------------------------------------------------
def customer_pays(
    world: World, out_trade_no: str, mchid: str | None, openid: str | None
) -> Transaction:
    """The customer pays the order: money reaches the payer, the callback is queued."""
    matches = [
        t
        for t in world.state.transactions.values()
        if t.out_trade_no == out_trade_no and mchid in (None, t.payer_mchid)
    ]
    if not matches:
        raise SandboxNotFound("没有这笔订单 / no such order", out_trade_no=out_trade_no)
    if len(matches) > 1:
        raise ControlRefused("多个商户有此订单号，请给出 mchid / several merchants: name mchid")
    txn = matches[0]
    if txn.trade_state != "NOTPAY":
        raise ControlRefused(f"订单状态为 {txn.trade_state} / the order is {txn.trade_state}")
    if txn.time_expire is not None and world.now > txn.time_expire:
        raise ControlRefused("订单已过支付期限 / the order's time_expire has passed")
    _settle_payment(world, txn, openid or txn.openid or "o" + secrets.token_hex(14))
    return txn


def _settle_payment(world: World, txn: Transaction, openid: str) -> None:
    payer = world.state.merchants[txn.payer_mchid]
    txn.openid = openid
    txn.transaction_id = world.next_number("42000", 15)
    txn.success_time = world.now
    txn.trade_state = "SUCCESS"
    txn.fee_rate_bp = payer.fee_rate_bp
    txn.fee_fen = fee_of(txn.total_fen, payer.fee_rate_bp)
    world.state.transaction_ids[txn.transaction_id] = txn.key
    bucket = account(payer.mchid, "FROZEN" if txn.profit_sharing else "AVAILABLE")
    refs = {"transaction_id": txn.transaction_id, "out_trade_no": txn.out_trade_no}
    world.move("payment", person(openid), bucket, txn.total_fen, **refs)
    if txn.fee_fen:
        world.move("fee", bucket, FEES, txn.fee_fen, **refs)
    if txn.profit_sharing:
        txn.unsplit_fen = txn.total_fen - txn.fee_fen
        settings = world.state.settings
        days = settings.freeze_days_partner if txn.partner else settings.freeze_days_direct
        txn.freeze_until = world.now + timedelta(days=days)
        world.schedule("auto_unfreeze", txn.key, at=txn.freeze_until)
    world.notify(
        url=txn.notify_url, target_mchid=txn.api_mchid, apiv3_key=world.api_key_of(txn.api_mchid),
        event_type="TRANSACTION.SUCCESS", summary="支付成功", original_type="transaction",
        resource=transaction_view(world, txn),
    )  # fmt: skip
