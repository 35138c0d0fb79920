"""Everything the sandbox provider knows, as one pydantic document.

The whole state is one :class:`SandboxState`: it is saved to ``DIR/state.json`` after every change
(so a restarted sandbox still knows the transactions Jifen has recorded) and read back on start.
Amounts are integer fen everywhere; times are UTC datetimes on the sandbox clock. Records are keyed
the way WeChat keys them: a merchant's ``out_*`` number is unique *per paying merchant*, so every
key starts with the payer's mchid (``"1900000101|T20260302001"``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

MerchantKind = Literal["service_provider", "sub_merchant", "direct"]
# merchant: takes customer payments; operator: the platform operator's own fee account;
# reserve: the points reserve, held under a depository (资金存管) agreement; platform: the
# service-provider account that calls the API for its sub-merchants and holds no money.
MerchantRole = Literal["merchant", "operator", "reserve", "platform"]
ReceiverType = Literal["MERCHANT_ID", "PERSONAL_OPENID", "PERSONAL_SUB_OPENID"]
FailReason = Literal[
    "ACCOUNT_ABNORMAL",
    "NO_RELATION",
    "RECEIVER_HIGH_RISK",
    "RECEIVER_REAL_NAME_NOT_VERIFIED",
    "NO_AUTH",
]
Api = Literal["direct", "ecommerce"]


class Merchant(BaseModel):
    mchid: str
    name: str  # the full registered name a MERCHANT_ID receiver must be added with
    kind: MerchantKind
    role: MerchantRole
    sp_mchid: str | None = None  # a sub-merchant's service provider
    appid: str | None = None
    # API-capable merchants (direct merchants and service providers) only:
    cert_serial_no: str | None = None
    public_key_pem: str | None = None  # the merchant's key, to verify its requests
    private_key_file: str | None = None
    apiv3_key: str | None = None
    fee_rate_bp: int = 60  # 0.60 %, WeChat's common rate; 1 bp = 0.01 %
    max_ratio_bp: int = 3000  # 30 %: the cap on what may be split to others
    profitsharing_notify_url: str | None = None  # 分账动账通知, for MERCHANT_ID receivers
    controller_mchid: str | None = None  # a reserve: who may instruct its depository payouts


class Relation(BaseModel):
    owner_mchid: str  # the payer whose receivers these are (the SP, for 平台收付通 adds)
    type: ReceiverType
    account: str
    name: str | None = None
    relation_type: str
    custom_relation: str | None = None
    added_at: datetime


class Transaction(BaseModel):
    key: str
    api_mchid: str  # the merchant that called: a direct merchant, or the SP
    payer_mchid: str  # the merchant the customer pays: the direct merchant or the sub-merchant
    partner: bool
    appid: str
    sub_appid: str | None = None
    out_trade_no: str
    trade_type: Literal["JSAPI", "NATIVE"]
    description: str
    attach: str | None = None
    notify_url: str
    total_fen: int
    profit_sharing: bool
    openid: str | None = None
    trade_state: Literal["NOTPAY", "SUCCESS", "CLOSED", "REFUND"] = "NOTPAY"
    created_at: datetime
    time_expire: datetime | None = None
    request_digest: str
    prepay_id: str
    transaction_id: str | None = None
    success_time: datetime | None = None
    fee_fen: int = 0
    fee_rate_bp: int = 0
    unsplit_fen: int = 0  # frozen remainder still splittable
    split_to_others_fen: int = 0  # cumulative, counted against the max ratio
    split_requests: int = 0
    refunded_fen: int = 0
    freeze_until: datetime | None = None
    finished: bool = False  # unfrozen: no split is possible any more


class SplitLine(BaseModel):
    type: ReceiverType
    account: str
    amount_fen: int
    description: str
    result: Literal["PENDING", "SUCCESS", "CLOSED"] = "PENDING"
    fail_reason: FailReason | None = None
    detail_id: str
    create_time: datetime
    finish_time: datetime | None = None
    unfreeze: bool = False  # the line that releases the remainder to the payer
    returned_fen: int = 0  # successful and processing returns
    returns: int = 0


class SplitOrder(BaseModel):
    key: str
    order_id: str
    out_order_no: str
    transaction_id: str
    payer_mchid: str
    api: Api
    kind: Literal["split", "unfreeze"]
    initiator: Literal["MERCHANT", "SYSTEM"] = "MERCHANT"
    state: Literal["PROCESSING", "FINISHED"] = "PROCESSING"
    lines: list[SplitLine]
    created_at: datetime
    due_at: datetime
    finish_description: str | None = None


class ReturnOrder(BaseModel):
    key: str
    return_id: str
    out_return_no: str
    order_key: str
    line_index: int
    payer_mchid: str
    return_mchid: str
    amount_fen: int
    description: str
    api: Api
    result: Literal["PROCESSING", "SUCCESS", "FAILED"] = "PROCESSING"
    fail_reason: Literal["ACCOUNT_ABNORMAL", "BALANCE_NOT_ENOUGH", "TIME_OUT_CLOSED"] | None = None
    create_time: datetime
    finish_time: datetime | None = None


class Refund(BaseModel):
    key: str
    refund_id: str
    out_refund_no: str
    transaction_key: str
    payer_mchid: str
    api: Api
    amount_fen: int
    from_frozen_fen: int
    from_available_fen: int
    funds_account: str | None = None
    reason: str | None = None
    notify_url: str | None = None
    status: Literal["PROCESSING", "SUCCESS"] = "PROCESSING"
    create_time: datetime
    success_time: datetime | None = None


class TransferDetail(BaseModel):
    out_detail_no: str
    detail_id: str
    amount_fen: int
    remark: str
    openid: str
    user_name: str | None = None
    status: Literal["INIT", "WAIT_PAY", "PROCESSING", "SUCCESS", "FAIL"] = "PROCESSING"
    update_time: datetime


class TransferBatch(BaseModel):
    key: str
    batch_id: str
    out_batch_no: str
    mchid: str
    appid: str
    name: str
    remark: str
    total_fen: int
    notify_url: str | None = None
    scene_id: str | None = None
    status: Literal["ACCEPTED", "PROCESSING", "FINISHED", "CLOSED"] = "ACCEPTED"
    details: list[TransferDetail]
    create_time: datetime
    update_time: datetime


class Payout(BaseModel):
    key: str
    payout_id: str
    out_payout_no: str
    payer_mchid: str
    payee_mchid: str
    amount_fen: int
    description: str
    create_time: datetime


class Movement(BaseModel):
    """One fund movement: ``amount_fen`` leaves ``from_account`` and reaches ``to_account``."""

    seq: int
    at: datetime
    kind: str
    from_account: str
    to_account: str
    amount_fen: int
    refs: dict[str, str] = Field(default_factory=dict)


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = None
    error: str | None = None


class Notification(BaseModel):
    id: str
    event_type: str
    url: str
    target_mchid: str
    body: str
    created_at: datetime
    next_attempt_at: datetime | None  # None: delivered (every copy) or given up
    copies_left: int = 1
    deliveries: int = 0
    attempts: list[Attempt] = Field(default_factory=list)
    gave_up: bool = False


class Task(BaseModel):
    due_at: datetime
    seq: int
    kind: Literal["split", "auto_unfreeze", "return_retry", "refund", "transfer"]
    ref: str


class Faults(BaseModel):
    closed_receivers: dict[str, FailReason] = Field(default_factory=dict)
    return_balance_short: list[str] = Field(default_factory=list)
    notify_duplicate: bool = False
    notify_delay_s: int = Field(default=0, ge=0, le=86_400)
    outage: Literal["5xx", "5xx_after"] | None = None
    outage_requests: int | None = Field(default=None, ge=1)  # None: until cleared


class Settings(BaseModel):
    settle_delay_s: int = Field(default=60, ge=0)  # payment → splittable (rule 5)
    split_delay_s: int = Field(default=60, ge=0)  # PROCESSING → SUCCESS/CLOSED (rule 10)
    refund_delay_s: int = Field(default=60, ge=0)
    transfer_delay_s: int = Field(default=60, ge=0)
    freeze_days_direct: int = Field(default=30, ge=1)
    freeze_days_partner: int = Field(default=180, ge=1)
    return_window_days: int = Field(default=180, ge=1)
    return_timeout_days: int = Field(default=5, ge=1)
    return_retry_s: int = Field(default=3600, ge=1)
    refund_window_days: int = Field(default=365, ge=1)
    split_bill_url_ttl_s: int = Field(default=30, ge=1)
    trade_bill_url_ttl_s: int = Field(default=300, ge=1)
    bill_ready_hour: int = Field(default=10, ge=0, le=23)  # China time, the day after


class BillToken(BaseModel):
    content_key: str
    expires_at: datetime
    gzip: bool


class SandboxState(BaseModel):
    version: Literal[1] = 1
    clock_now: datetime
    clock_running: bool = False
    counter: int = 0
    platform_public_key_id: str
    merchants: dict[str, Merchant] = Field(default_factory=dict)
    relations: dict[str, Relation] = Field(default_factory=dict)
    transactions: dict[str, Transaction] = Field(default_factory=dict)
    transaction_ids: dict[str, str] = Field(default_factory=dict)  # transaction_id → key
    splits: dict[str, SplitOrder] = Field(default_factory=dict)
    split_ids: dict[str, str] = Field(default_factory=dict)  # order_id → key
    returns: dict[str, ReturnOrder] = Field(default_factory=dict)
    refunds: dict[str, Refund] = Field(default_factory=dict)
    transfers: dict[str, TransferBatch] = Field(default_factory=dict)
    payouts: dict[str, Payout] = Field(default_factory=dict)
    movements: list[Movement] = Field(default_factory=list)
    balances: dict[str, int] = Field(default_factory=dict)
    notifications: list[Notification] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    bills: dict[str, str] = Field(default_factory=dict)  # generated files, frozen once made
    bill_tokens: dict[str, BillToken] = Field(default_factory=dict)
    faults: Faults = Field(default_factory=Faults)
    settings: Settings = Field(default_factory=Settings)


def key(mchid: str, number: str) -> str:
    return f"{mchid}|{number}"
