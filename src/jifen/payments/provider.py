"""The provider protocol: what Jifen asks of a licensed payment institution, in plain values.

Everything the rest of Jifen needs from WeChat Pay, Alipay or another licensed provider is one
method here; an adapter (``wechat``, ``alipay``) translates it to the provider's wire and SDK. The
platform never holds the money: a payment is made to the merchant's account at the provider, the
provider splits it among receivers registered beforehand, returns splits before a refund, and pays
reimbursements from the reserve's account — Jifen only sends the instructions and keeps the
records (docs/payments.md).

Amounts are integer fen; times are timezone-aware UTC. Every instruction carries an ``out_*``
number that is its idempotency key at the provider: the same number is the same request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol


class PaymentMethod(enum.StrEnum):
    JSAPI = "jsapi"  # in the member's WeChat (公众号/小程序): needs the payer's openid
    NATIVE = "native"  # a QR code the member scans at the till


class ReceiverType(enum.StrEnum):
    MERCHANT = "MERCHANT_ID"
    PERSONAL = "PERSONAL_OPENID"


@dataclass(frozen=True, slots=True)
class Receiver:
    """A split receiver as registered with the provider (receivers/add)."""

    type: ReceiverType
    account: str  # a mchid, or an openid
    name: str | None = None  # the real (merchant) name; sent encrypted
    relation: str = "PARTNER"  # relation_type: SERVICE_PROVIDER, STORE, PARTNER, USER, ...


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    merchant: str  # the provider's id of the merchant paid (a sub-merchant, 特约商户)
    out_trade_no: str
    amount_fen: int
    description: str
    notify_url: str
    method: PaymentMethod = PaymentMethod.NATIVE
    payer_openid: str | None = None
    attach: str = ""  # returned in the notification: Jifen puts the merchant, order and member
    profit_sharing: bool = True  # settle_info.profit_sharing: the money waits to be split


@dataclass(frozen=True, slots=True)
class PaymentCreated:
    out_trade_no: str
    prepay_id: str | None = None  # JSAPI
    code_url: str | None = None  # native


@dataclass(frozen=True, slots=True)
class PaymentState:
    out_trade_no: str
    transaction_id: str | None
    state: str  # SUCCESS | NOTPAY | CLOSED | REFUND | USERPAYING | PAYERROR
    amount_fen: int
    success_time: datetime | None = None
    attach: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified, decrypted callback: ``resource`` is the provider's plaintext object."""

    event_id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, PROFITSHARING.SUCCESS, ...
    resource: Mapping[str, Any]
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SplitReceiver:
    receiver: Receiver
    fen: int
    description: str


@dataclass(frozen=True, slots=True)
class SplitRequest:
    merchant: str  # the payer: the merchant whose payment is split
    transaction_id: str
    out_order_no: str
    receivers: tuple[SplitReceiver, ...]
    unfreeze_unsplit: bool = False  # the remainder goes to the merchant; no later split


@dataclass(frozen=True, slots=True)
class SplitReceiverResult:
    account: str
    fen: int
    result: str  # PENDING | SUCCESS | CLOSED
    fail_reason: str | None = None
    detail_id: str | None = None
    finished_at: datetime | None = None  # when the provider finished the line (its bill's date)


@dataclass(frozen=True, slots=True)
class SplitResult:
    out_order_no: str
    order_id: str
    state: str  # PROCESSING | FINISHED
    receivers: tuple[SplitReceiverResult, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    merchant: str  # the payer the money goes back to
    out_order_no: str
    out_return_no: str
    return_account: str  # the MERCHANT_ID receiver that gives the money back
    fen: int
    description: str


@dataclass(frozen=True, slots=True)
class ReturnResult:
    out_return_no: str
    return_id: str
    result: str  # PROCESSING | SUCCESS | FAILED
    fail_reason: str | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefundReturn:
    """Split money a receiver gives back *inside* a refund. Alipay returns splits this way
    (``refund_royalty_parameters`` on the refund); WeChat Pay returns them before the refund
    (``return_split``) and refuses a refund that carries any."""

    account: str  # the receiver that gives the money back
    fen: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class RefundRequest:
    merchant: str
    transaction_id: str
    out_refund_no: str
    refund_fen: int
    total_fen: int
    reason: str
    notify_url: str | None = None
    split_returns: tuple[RefundReturn, ...] = ()  # Alipay only: see RefundReturn


@dataclass(frozen=True, slots=True)
class RefundResult:
    out_refund_no: str
    refund_id: str
    status: str  # SUCCESS | PROCESSING | ABNORMAL | CLOSED


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """Money from the reserve's account to a merchant (a reimbursement, a settled net)."""

    out_transfer_no: str
    to_account: str
    fen: int
    remark: str


@dataclass(frozen=True, slots=True)
class TransferResult:
    out_transfer_no: str
    transfer_id: str
    state: str  # PROCESSING | SUCCESS | FAILED
    fail_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PersonTransfer:
    """One person paid in a transfer batch (商家转账 to a WeChat 零钱)."""

    out_detail_no: str
    openid: str  # under the paying merchant's appid
    fen: int
    remark: str  # at most 32 characters
    user_name: str | None = None  # the real name, sent encrypted; required from ¥2,000


@dataclass(frozen=True, slots=True)
class PersonTransferBatch:
    """Money from the operator's own account to persons: referral rewards, net of tax."""

    out_batch_no: str  # letters and digits only
    name: str
    remark: str
    details: tuple[PersonTransfer, ...]
    notify_url: str | None = None


@dataclass(frozen=True, slots=True)
class PersonTransferDetail:
    out_detail_no: str
    detail_id: str
    state: str  # INIT | WAIT_PAY | PROCESSING | SUCCESS | FAIL
    fail_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PersonTransferResult:
    out_batch_no: str
    batch_id: str
    state: str  # ACCEPTED | PROCESSING | FINISHED | CLOSED
    details: tuple[PersonTransferDetail, ...] = ()  # on a query: every detail


class BillKind(enum.StrEnum):
    TRADE = "trade"
    SPLIT = "split"


@dataclass(frozen=True, slots=True)
class Bill:
    """A provider's bill for one China-time date, downloaded and its hash checked."""

    kind: BillKind
    bill_date: date
    hash_type: str
    hash_value: str
    content: bytes


class Provider(Protocol):
    """A licensed payment institution, as Jifen uses it. Refusals raise ``ProviderRefused``
    (the provider answered no, with its code); an unreachable provider ``ProviderUnavailable``;
    a callback that fails verification ``NotificationRefused``; an operation the provider does
    not offer ``NotOffered``.

    The optional arguments are what one provider needs and another does without: Alipay finds a
    refund only within its trade (``transaction_id``) and acts for a merchant only with that
    merchant's authorization (``merchant`` on the amount query and the bill); WeChat Pay's
    service-provider calls are platform-wide and ignore them."""

    name: str

    def create_payment(self, request: PaymentRequest) -> PaymentCreated: ...
    def query_payment(self, out_trade_no: str, merchant: str) -> PaymentState: ...
    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification: ...
    def add_receiver(self, receiver: Receiver, merchant: str) -> None: ...
    def remove_receiver(self, receiver: Receiver, merchant: str) -> None: ...
    def split(self, request: SplitRequest) -> SplitResult: ...
    def query_split(self, transaction_id: str, out_order_no: str, merchant: str) -> SplitResult: ...
    def return_split(self, request: ReturnRequest) -> ReturnResult: ...
    def query_return(
        self, out_order_no: str, out_return_no: str, merchant: str
    ) -> ReturnResult: ...
    def unfreeze(
        self, transaction_id: str, out_order_no: str, description: str, merchant: str
    ) -> SplitResult: ...
    def unsplit_fen(self, transaction_id: str, merchant: str = "") -> int: ...
    def refund(self, request: RefundRequest) -> RefundResult: ...
    def query_refund(
        self, out_refund_no: str, merchant: str, transaction_id: str = ""
    ) -> RefundResult: ...
    def transfer(self, request: TransferRequest) -> TransferResult: ...
    def query_transfer(self, out_transfer_no: str) -> TransferResult: ...
    def bill(self, kind: BillKind, bill_date: date, merchant: str = "") -> Bill: ...
    def transfer_to_persons(self, batch: PersonTransferBatch) -> PersonTransferResult: ...
    def query_person_transfers(self, out_batch_no: str) -> PersonTransferResult: ...
