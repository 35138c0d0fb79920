"""Response bodies, mapped from the services' plain values.

Every response model reads its fields by name from the service's value
(``OrderOut.model_validate(order)``, ``from_attributes``): a field the wire does not carry is
simply not declared (an order's ``merchant_id``: the caller is that merchant; a result's
``replayed``: the ``Idempotent-Replayed`` header says it). Where the wire shape differs from the
value on purpose, one small named function below builds it and says why.

A model's docstring would become its description in the OpenAPI document, so what these models
are is said in comments, and the document stays what integrators generated their clients from.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from jifen.alliance.members import Member
from jifen.alliance.merchants import MerchantStatus
from jifen.app.rulebook import VersionView
from jifen.jobs import DayResult
from jifen.rules import VersionStatus
from jifen.settlement import LiabilityReport, coverage_text

IN_YOUR_LANGUAGE = "按 Accept-Language 的语言（默认 zh-CN）/ in the language Accept-Language asks"


class Problem(BaseModel):
    """RFC 9457 problem details, with Jifen's stable ``code``."""

    type: str
    title: str = Field(description=IN_YOUR_LANGUAGE)
    status: int
    detail: str = Field(description=IN_YOUR_LANGUAGE)
    code: str = Field(description="稳定的错误码 / stable error code, e.g. points.insufficient")
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="无效字段 {path, type, message} 或其他清单 / invalid fields, or another list",
    )


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T", bound=_Out)


class Page(_Out, Generic[T]):
    # one page of a list: the service's ``jifen.app.Page``, its items mapped to ``T``. Each list
    # names its page (``class OrderPage(Page[OrderOut])``) so that the OpenAPI component keeps
    # the name generated clients are built on, not pydantic's ``Page_OrderOut_``.
    items: list[T]
    next_cursor: str | None


def _fields(value: object) -> object:
    """A service's dataclass as its fields, for a field the wire documents as a plain object."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


# -- rules ---------------------------------------------------------------------------------------


class RuleVersionOut(_Out):
    number: int
    status: VersionStatus
    published_at: datetime | None
    effective_at: datetime | None
    reason: str
    withdrawn_at: datetime | None = Field(description="撤回时间 / when it was withdrawn, if it was")
    withdraw_reason: str | None = Field(description="撤回理由 / why it was withdrawn, if it was")
    diff: str = Field(description="与上一公示版本的差异 / changes against the previous version")
    document: dict[str, Any]
    findings: list[dict[str, str]] = Field(
        description="合规检查结果（每份草稿都检查）/ compliance linter findings, on every draft"
    )


def version_out(view: VersionView) -> RuleVersionOut:
    """A version flattened with its status and findings (``jifen.app.rulebook.view`` computes
    them; nothing is decided here). The wire names the diff ``diff``, and carries the document and
    each finding as the plain JSON objects it has always published."""
    v = view.version
    return RuleVersionOut(
        number=v.number,
        status=view.status,
        published_at=v.published_at,
        effective_at=v.effective_at,
        reason=v.reason,
        withdrawn_at=v.withdrawn_at,
        withdraw_reason=v.withdraw_reason,
        diff=v.diff_text,
        document=v.document.model_dump(mode="json"),
        findings=[f.as_dict() for f in view.findings],
    )


# -- merchants and members -------------------------------------------------------------------------


class MerchantOut(_Out):  # a merchant's record; its created_at stays inside
    merchant_id: str
    name: str
    category: str
    status: MerchantStatus
    kyc: dict[str, str]
    stores: list[Annotated[dict[str, str], BeforeValidator(_fields)]]


class MerchantCreated(_Out):
    merchant: MerchantOut
    api_key: str | None = Field(
        description="只显示这一次；重放请求时为 null / shown only once; null on a replayed request"
    )


class MemberOut(_Out):
    member_id: str
    phone_masked: str
    created_at: datetime | None = Field(
        description="运营方可见；商家登记时为 null / the operator's to see; null for a merchant"
    )
    consents: dict[str, bool] | None = Field(
        description="运营方与会员本人可见；商家登记时为 null / null for a merchant"
    )


def member_for_merchant(m: Member) -> MemberOut:
    """What a merchant enrolling a member learns: the member id and the masked number it typed,
    nothing else (no created_at, no consents), so the answer is the same for a new and an
    existing member and enrolment is no oracle over phone numbers. The operator and the member
    see the whole record, ``MemberOut.model_validate(member)``."""
    return MemberOut(
        member_id=m.member_id, phone_masked=m.phone_masked, created_at=None, consents=None
    )


class TokenOut(_Out):
    token: str | None = Field(description="null on a replayed request: ask under a new key")
    expires_at: datetime


class LotOut(_Out):
    lot_id: str
    merchant_id: str
    order_ref: str
    rule_version: int
    points: int
    pending: int
    available: int
    release_at: datetime
    expires_at: datetime | None
    status: str


class AccountOut(_Out):
    member_id: str
    available: int
    pending: int
    debt: int
    pending_lots: list[LotOut]
    expiring_soon: list[LotOut]


class HistoryOut(_Out):
    entry_id: str
    at: datetime
    kind: str
    points: int
    pending_points: int
    available_points: int
    merchant_id: str | None
    order_ref: str | None
    rule_version: int | None


class HistoryPage(Page[HistoryOut]):
    pass


# -- orders and redemptions ----------------------------------------------------------------------


class OrderOut(_Out):  # an order as its merchant sees it: no merchant_id, the caller is it
    order_ref: str
    member_id: str
    amount_fen: int
    refunded_fen: int
    paid_at: datetime
    rule_version: int | None
    points: int
    status: str
    pending: int
    available: int
    release_at: datetime | None
    expires_at: datetime | None
    capped_by: str | None


class OrderPage(Page[OrderOut]):
    pass


class RefundOut(_Out):
    order: OrderOut
    refund_fen: int
    clawback_points: int
    shortfall_points: int
    shortfall_policy: str
    deduct_fen: int
    credited_fen: int


class CodeOut(_Out):
    code: str | None = Field(description="null on a replayed request: ask under a new key")
    expires_at: datetime


class RedemptionOut(_Out):  # as the redeeming merchant sees it: no merchant_id
    redemption_id: str
    member_id: str
    order_ref: str
    points: int
    value_fen: int
    at: datetime


class RedemptionPage(Page[RedemptionOut]):
    pass


# -- settlement, reports, jobs ---------------------------------------------------------------------


class StatementOut(_Out):
    merchant_id: str
    business_date: date
    points_issued: int
    charges_fen: int
    points_accepted: int
    reimbursements_fen: int
    credits_fen: int
    adjustments_fen: int
    collected_fen: int = Field(description="分账已收的发行费 / issue charges collected by split")
    returned_fen: int = Field(description="分账回退已付的退还 / credits paid back by split return")
    net_fen: int
    entry_id: str | None


class StatementPage(Page[StatementOut]):
    pass


class MerchantPage(Page[MerchantOut]):
    pass


class ExpiryBucketOut(_Out):
    month: str
    points: int
    value_fen: int


class LiabilitiesOut(_Out):
    outstanding_points: int
    value_fen: int
    by_expiry_month: list[ExpiryBucketOut]
    breakage_rate_bp: int
    estimated_breakage_points: int
    estimated_breakage_fen: int
    reserve_fen: int
    coverage: str = Field(description="准备金覆盖率 / reserve ÷ liability")


def liabilities_out(r: LiabilityReport) -> LiabilitiesOut:
    """The report with its reserve flattened into two figures: the reserve held, and its coverage
    of the liability as text (``coverage_text``: a percentage, "—" with nothing to cover)."""
    return LiabilitiesOut(
        outstanding_points=r.outstanding_points,
        value_fen=r.value_fen,
        by_expiry_month=[ExpiryBucketOut.model_validate(b) for b in r.by_expiry_month],
        breakage_rate_bp=r.breakage_rate_bp,
        estimated_breakage_points=r.estimated_breakage_points,
        estimated_breakage_fen=r.estimated_breakage_fen,
        reserve_fen=r.reserve.reserve_fen,
        coverage=coverage_text(r.reserve),
    )


class DayOut(_Out):
    business_date: date
    released: int
    expired: int
    reminders: int
    statements: int
    net_fen_by_merchant: dict[str, int]
    reserve_fen: int
    liability_fen: int
    reserve_ok: bool


def day_out(d: DayResult) -> DayOut:
    """A closed day summarised: how many statements it wrote and each merchant's net, not the
    statements themselves (``GET /v1/statements`` lists those)."""
    return DayOut(
        business_date=d.business_date,
        released=d.released,
        expired=d.expired,
        reminders=d.reminders,
        statements=len(d.statements),
        net_fen_by_merchant={s.merchant_id: s.net_fen for s in d.statements},
        reserve_fen=d.reserve_fen,
        liability_fen=d.liability_fen,
        reserve_ok=d.reserve_ok,
    )


class ClockOut(_Out):
    now: datetime
