"""Bodies of the money path (``/v1/payments``, split plans and receivers, payouts, alerts):
the values of ``jifen.funds`` as they go over the wire; amounts in integer fen."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from jifen.api._types import ID, Fen, Ref, Text, hinted
from jifen.api.schemas._in import Strict
from jifen.api.schemas._out import Page, _Out
from jifen.payments import PaymentMethod, ReceiverType, SplitPlan


class PaymentIn(Strict):
    order_ref: Ref = Field(pattern=ID)
    member_id: Ref = Field(pattern=ID)
    amount_fen: Fen
    description: str = Field(
        min_length=1, max_length=127, description="商品描述 / shown to the payer"
    )
    method: PaymentMethod = PaymentMethod.NATIVE
    payer_openid: Text | None = Field(default=None, max_length=128)


class PaymentRefundIn(Strict):
    refund_ref: Ref = Field(pattern=ID)
    refund_fen: Fen


class FulfilmentIn(Strict):
    event: Literal["shipped", "received"] = Field(description="发货 shipped | 收货 received")


class ProviderAccountIn(Strict):
    account: Annotated[Text, hinted("provider_account")] = Field(
        pattern=r"^[0-9]{1,32}$", description="特约商户号 / sub_mchid"
    )
    max_ratio_bp: int | None = Field(default=None, ge=0, le=10_000, strict=True)


class ReceiverIn(Strict):
    name: Text = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="方案中的名称 / plan name"
    )
    type: ReceiverType
    account: Text = Field(min_length=1, max_length=64)
    real_name: str | None = Field(default=None, max_length=128, description="商户全称 / full name")
    relation: str = Field(default="PARTNER", pattern=r"^[A-Z_]{1,24}$")


class SplitLineOut(_Out):
    receiver: str
    account: str
    fen: int
    result: str
    fail_reason: str | None


class SplitOrderOut(_Out):
    out_order_no: str
    condition: str
    state: str
    due_at: datetime | None
    last_error: str | None
    lines: list[SplitLineOut]


class PaymentRefundOut(_Out):
    out_refund_no: str
    refund_ref: str
    refund_fen: int
    customer_fen: int = Field(description="退给顾客 / paid back to the customer")
    credited_fen: int = Field(description="积分价值退还商户 / the points' value credited")
    state: str = Field(description="waiting | returning | refunding | succeeded")
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class PaymentOut(_Out):
    out_trade_no: str
    order_ref: str
    member_id: str
    amount_fen: int
    description: str
    method: str
    plan_version: int | None
    state: str = Field(description="created | paid")
    transaction_id: str | None
    paid_at: datetime | None
    pay_url: str | None = Field(description="二维码链接或 prepay_id / code_url or prepay_id")
    order_error: str | None
    created_at: datetime
    splits: list[SplitOrderOut] = Field(default_factory=list)
    refunds: list[PaymentRefundOut] = Field(default_factory=list)


class ProviderAccountOut(_Out):
    merchant_id: str
    account: str
    max_ratio_bp: int
    linked_at: datetime


class ReceiverOut(_Out):
    merchant_id: str
    name: str
    type: str
    account: str
    relation: str
    registered_at: datetime


class SplitPlanOut(_Out):
    merchant_id: str
    version: int
    plan: SplitPlan
    filed_at: datetime


class PayoutOut(_Out):
    out_payout_no: str
    merchant_id: str
    business_date: str
    fen: int
    state: str
    transfer_id: str | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class PayoutPage(Page[PayoutOut]):
    pass


class AlertOut(_Out):
    subject: str
    business_date: str
    line: str
    total_fen: int
    threshold_fen: int
    created_at: datetime


class AlertPage(Page[AlertOut]):
    pass


class ReconciliationItemOut(_Out):
    kind: str
    key: str
    provider_ref: str
    status: str = Field(description="matched | missing_ours | missing_provider | amount_differs")
    ours_fen: int | None
    bill_fen: int | None
    diff_fen: int | None
    note: str


class ReconciliationTotalOut(_Out):
    kind: str
    ours_fen: int
    bill_fen: int
    bill_fee_fen: int | None


class ReconciliationOut(_Out):
    bill_date: str
    run: int = Field(description="第几次对账 / which run of this date (every run is kept)")
    run_at: datetime
    counts: dict[str, int]
    totals: list[ReconciliationTotalOut]
    items: list[ReconciliationItemOut]
