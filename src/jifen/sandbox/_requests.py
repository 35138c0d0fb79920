"""The request bodies the sandbox accepts, with WeChat's field names and limits (payments.md §1.2).

Strict: an amount must be a JSON integer of fen (``"100"`` and ``1.0`` are refused, as WeChat
refuses them); unknown fields are ignored, as WeChat ignores them. A body that fails these models
is ``400 PARAM_ERROR`` naming the field (:func:`parse`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from jifen.sandbox._state import ReceiverType
from jifen.sandbox._world import param_error

OutNo = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-|*@]+$")
]
TradeNo = Annotated[
    str, StringConstraints(min_length=6, max_length=32, pattern=r"^[0-9A-Za-z_\-|*]+$")
]
BatchNo = Annotated[str, StringConstraints(min_length=5, max_length=32, pattern=r"^[0-9A-Za-z]+$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=80)]
Fen = Annotated[int, Field(gt=0, le=10**12)]
RelationType = Literal[
    "SERVICE_PROVIDER", "STORE", "STAFF", "STORE_OWNER", "PARTNER", "HEADQUARTER", "BRAND",
    "DISTRIBUTOR", "USER", "SUPPLIER", "CUSTOM",
]  # fmt: skip


class Req(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class Amount(Req):
    total: Fen
    currency: Literal["CNY"] = "CNY"


class SettleInfo(Req):
    profit_sharing: bool = False


class Payer(Req):
    openid: Id | None = None
    sp_openid: Id | None = None
    sub_openid: Id | None = None


class PayRequest(Req):
    appid: Id | None = None
    mchid: Id | None = None
    sp_appid: Id | None = None
    sp_mchid: Id | None = None
    sub_appid: Id | None = None
    sub_mchid: Id | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=127)]
    out_trade_no: TradeNo
    time_expire: str | None = None
    attach: Annotated[str, StringConstraints(max_length=128)] | None = None
    notify_url: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    amount: Amount
    payer: Payer | None = None
    settle_info: SettleInfo | None = None


class CloseRequest(Req):
    mchid: Id | None = None
    sp_mchid: Id | None = None
    sub_mchid: Id | None = None


class ReceiverAdd(Req):
    sub_mchid: Id | None = None
    appid: Id | None = None
    sub_appid: Id | None = None
    type: ReceiverType
    account: Id
    name: Annotated[str, StringConstraints(max_length=1024)] | None = None
    encrypted_name: Annotated[str, StringConstraints(max_length=1024)] | None = None
    relation_type: RelationType
    custom_relation: Annotated[str, StringConstraints(min_length=1, max_length=10)] | None = None


class ReceiverDelete(Req):
    sub_mchid: Id | None = None
    appid: Id | None = None
    type: ReceiverType
    account: Id


class SplitReceiver(Req):
    type: ReceiverType
    account: Id
    name: Annotated[str, StringConstraints(max_length=1024)] | None = None
    amount: Fen
    description: Text


class SplitRequest(Req):
    sub_mchid: Id | None = None
    appid: Id | None = None
    sub_appid: Id | None = None
    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    out_order_no: OutNo
    receivers: list[SplitReceiver] = Field(min_length=1)
    unfreeze_unsplit: bool


class EcommerceReceiver(Req):
    type: ReceiverType = "MERCHANT_ID"
    receiver_account: Id
    receiver_name: Annotated[str, StringConstraints(max_length=1024)] | None = None
    amount: Fen
    description: Text


class EcommerceSplitRequest(Req):
    sub_mchid: Id
    appid: Id | None = None
    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    out_order_no: OutNo
    receivers: list[EcommerceReceiver] = Field(min_length=1)
    finish: bool


class UnfreezeRequest(Req):
    sub_mchid: Id | None = None
    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    out_order_no: OutNo
    description: Text


class ReturnRequest(Req):
    sub_mchid: Id | None = None
    order_id: Id | None = None
    out_order_no: OutNo | None = None
    out_return_no: OutNo
    return_mchid: Id
    amount: Fen
    description: Text


class RefundAmount(Req):
    refund: Fen
    total: Fen
    currency: Literal["CNY"] = "CNY"


class RefundRequest(Req):
    sub_mchid: Id | None = None
    transaction_id: Id | None = None
    out_trade_no: TradeNo | None = None
    out_refund_no: OutNo
    reason: Annotated[str, StringConstraints(max_length=80)] | None = None
    notify_url: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    funds_account: Literal["AVAILABLE", "UNSETTLED"] | None = None
    amount: RefundAmount


class TransferDetailRequest(Req):
    out_detail_no: BatchNo
    transfer_amount: Fen
    transfer_remark: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    openid: Id
    user_name: Annotated[str, StringConstraints(max_length=1024)] | None = None


class TransferBatchRequest(Req):
    appid: Id
    out_batch_no: BatchNo
    batch_name: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    batch_remark: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    total_amount: Fen
    total_num: Annotated[int, Field(ge=1, le=1000)]
    transfer_detail_list: list[TransferDetailRequest] = Field(min_length=1, max_length=1000)
    transfer_scene_id: Id | None = None
    notify_url: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class PayoutRequest(Req):
    payer_mchid: Id
    out_payout_no: OutNo
    payee_mchid: Id
    amount: Fen
    description: Text


M = TypeVar("M", bound=Req)


def parse(model: type[M], body: Any) -> M:
    """``body`` as ``model``, or ``400 PARAM_ERROR`` naming the first field that is wrong."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise param_error(f"参数错误 / invalid parameter {where}: {first['msg']}") from None
