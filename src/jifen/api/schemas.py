"""What goes over the wire: request and response bodies (pydantic), with units in every name.

Points are integers, money is integer fen, times are ISO 8601 with a zone. Responses are built from
the services' plain values by the ``*_out`` helpers, so a service never knows about HTTP.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from jifen.alliance.members import Account, HistoryLine, LotView, Member
from jifen.alliance.merchants import Merchant
from jifen.alliance.orders import Order, RefundResult
from jifen.alliance.redemptions import Redemption
from jifen.api._types import UtcDatetime
from jifen.compliance import lint_rules
from jifen.jobs import DayResult
from jifen.rules import MAX_REASON_CHARS, Version, VersionStatus
from jifen.settlement import LiabilityReport, Statement, coverage_text

ID = r"^[A-Za-z0-9._-]{1,64}$"
MAX_FEN = 10**12


def _nfkc(value: object) -> object:
    """Text as NFKC before it is checked: a full-width ｏｒｄｅｒ-１ is the same id as order-1, and
    digits a pattern accepts are ASCII digits only (the patterns spell out 0-9, never \\d)."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(_nfkc)]
"""An identifier, phone number or code from a caller, normalised before any check."""
Fen = Annotated[StrictInt, Field(gt=0, le=MAX_FEN)]
"""Money in fen: a JSON integer. ``"100"``, ``100.0`` and ``true`` are refused, never coerced."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details, with Jifen's stable ``code``."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="稳定的错误码 / stable error code, e.g. points.insufficient")
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


# -- rules ---------------------------------------------------------------------------------------


class PublishIn(Strict):
    effective_at: UtcDatetime
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class WithdrawIn(Strict):
    reason: str = Field(
        min_length=1, max_length=MAX_REASON_CHARS, description="撤回理由（公开）/ why (public)"
    )


class RuleVersionOut(BaseModel):
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


def version_out(v: Version, status: VersionStatus) -> RuleVersionOut:
    return RuleVersionOut(
        number=v.number,
        status=status,
        published_at=v.published_at,
        effective_at=v.effective_at,
        reason=v.reason,
        withdrawn_at=v.withdrawn_at,
        withdraw_reason=v.withdraw_reason,
        diff=v.diff_text,
        document=v.document.model_dump(mode="json"),
        findings=[f.as_dict() for f in lint_rules(v.document)],
    )


# -- merchants and members -------------------------------------------------------------------------


class StoreIn(Strict):
    store_id: Text = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=100)
    city: str = Field(default="", max_length=50)


class KycIn(Strict):
    legal_name: str = Field(min_length=1, max_length=200, description="营业执照名称")
    licence_no: Text = Field(pattern=r"^[0-9A-Z]{18}$", description="统一社会信用代码")
    contact_name: str = Field(default="", max_length=50)


class MerchantIn(Strict):
    merchant_id: Text = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=200)
    category: Text = Field(pattern=r"^[a-z_]{1,32}$", description="行业 / trade, e.g. cafe")
    kyc: KycIn
    stores: list[StoreIn] = Field(default_factory=list, max_length=200)


class MerchantOut(BaseModel):
    merchant_id: str
    name: str
    category: str
    status: Literal["active", "suspended", "closed"]
    kyc: dict[str, str]
    stores: list[dict[str, str]]


class MerchantCreated(BaseModel):
    merchant: MerchantOut
    api_key: str | None = Field(
        description="只显示这一次；重放请求时为 null / shown only once; null on a replayed request"
    )


class StatusIn(Strict):
    status: Literal["active", "suspended", "closed"]


def merchant_out(m: Merchant) -> MerchantOut:
    return MerchantOut(
        merchant_id=m.merchant_id,
        name=m.name,
        category=m.category,
        status=m.status.value,
        kyc=m.kyc,
        stores=[s.__dict__ for s in m.stores],
    )


class MemberIn(Strict):
    phone: Text = Field(
        min_length=11,
        max_length=20,
        pattern=r"^[ \t-]*(?:\+86|0086)?[ \t-]*1[ \t-]*[3-9](?:[ \t-]*[0-9]){9}[ \t-]*$",
        description="中国大陆手机号，11 位数字（可带 +86、空格或连字符）/ a mainland mobile number",
    )
    consents: dict[Literal["terms", "privacy", "marketing"], bool]


class MemberOut(BaseModel):
    member_id: str
    phone_masked: str
    created_at: datetime | None = Field(
        description="运营方可见；商家登记时为 null / the operator's to see; null for a merchant"
    )
    consents: dict[str, bool] | None = Field(
        description="运营方与会员本人可见；商家登记时为 null / null for a merchant"
    )


def member_out(m: Member, *, full: bool = True) -> MemberOut:
    """``full=False`` for a merchant: the member id and the masked number it typed, the same
    answer for a new and an existing member, so enrolment is no oracle over phone numbers."""
    if not full:
        return MemberOut(
            member_id=m.member_id, phone_masked=m.phone_masked, created_at=None, consents=None
        )
    return MemberOut(**m.__dict__)


class TokenOut(BaseModel):
    token: str | None = Field(description="null on a replayed request: ask under a new key")
    expires_at: datetime


class LotOut(BaseModel):
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


def lot_out(lot: LotView) -> LotOut:
    return LotOut(**lot.__dict__)


class AccountOut(BaseModel):
    member_id: str
    available: int
    pending: int
    debt: int
    pending_lots: list[LotOut]
    expiring_soon: list[LotOut]


def account_out(a: Account) -> AccountOut:
    return AccountOut(
        member_id=a.member_id,
        available=a.available,
        pending=a.pending,
        debt=a.debt,
        pending_lots=[lot_out(x) for x in a.pending_lots],
        expiring_soon=[lot_out(x) for x in a.expiring_soon],
    )


class HistoryOut(BaseModel):
    entry_id: str
    at: datetime
    kind: str
    points: int
    pending_points: int
    available_points: int
    merchant_id: str | None
    order_ref: str | None
    rule_version: int | None


class HistoryPage(BaseModel):
    items: list[HistoryOut]
    next_cursor: str | None


def history_out(h: HistoryLine) -> HistoryOut:
    return HistoryOut(**h.__dict__)


# -- orders and redemptions ----------------------------------------------------------------------


class OrderIn(Strict):
    order_ref: Text = Field(pattern=ID)
    member_id: Text = Field(pattern=ID)
    amount_fen: Fen
    paid_at: UtcDatetime


class OrderOut(BaseModel):
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


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


def order_out(o: Order) -> OrderOut:
    d = dict(o.__dict__)
    d.pop("merchant_id")
    return OrderOut(**d)


class RefundIn(Strict):
    refund_ref: Text = Field(pattern=ID)
    refund_fen: Fen


class RefundOut(BaseModel):
    order: OrderOut
    refund_fen: int
    clawback_points: int
    shortfall_points: int
    shortfall_policy: str
    deduct_fen: int
    credited_fen: int


def refund_out(r: RefundResult) -> RefundOut:
    return RefundOut(
        order=order_out(r.order),
        refund_fen=r.refund_fen,
        clawback_points=r.clawback_points,
        shortfall_points=r.shortfall_points,
        shortfall_policy=r.shortfall_policy,
        deduct_fen=r.deduct_fen,
        credited_fen=r.credited_fen,
    )


class CodeOut(BaseModel):
    code: str | None = Field(description="null on a replayed request: ask under a new key")
    expires_at: datetime


class RedemptionIn(Strict):
    code: Text = Field(pattern=r"^[0-9]{18}$")
    points: StrictInt = Field(gt=0, le=10**9)
    order_ref: Text = Field(pattern=ID)
    order_amount_fen: Fen


class RedemptionOut(BaseModel):
    redemption_id: str
    member_id: str
    order_ref: str
    points: int
    value_fen: int
    at: datetime


class RedemptionPage(BaseModel):
    items: list[RedemptionOut]
    next_cursor: str | None


def redemption_out(r: Redemption) -> RedemptionOut:
    return RedemptionOut(
        redemption_id=r.redemption_id,
        member_id=r.member_id,
        order_ref=r.order_ref,
        points=r.points,
        value_fen=r.value_fen,
        at=r.at,
    )


# -- settlement, reports, jobs ---------------------------------------------------------------------


class StatementOut(BaseModel):
    merchant_id: str
    business_date: date
    points_issued: int
    charges_fen: int
    points_accepted: int
    reimbursements_fen: int
    credits_fen: int
    adjustments_fen: int
    net_fen: int
    entry_id: str | None


class StatementPage(BaseModel):
    items: list[StatementOut]
    next_cursor: str | None


def statement_out(s: Statement) -> StatementOut:
    return StatementOut(**s.__dict__)


class MerchantPage(BaseModel):
    items: list[MerchantOut]
    next_cursor: str | None


class ExpiryBucketOut(BaseModel):
    month: str
    points: int
    value_fen: int


class LiabilitiesOut(BaseModel):
    outstanding_points: int
    value_fen: int
    by_expiry_month: list[ExpiryBucketOut]
    breakage_rate_bp: int
    estimated_breakage_points: int
    estimated_breakage_fen: int
    reserve_fen: int
    coverage: str = Field(description="准备金覆盖率 / reserve ÷ liability")


def liabilities_out(r: LiabilityReport) -> LiabilitiesOut:
    return LiabilitiesOut(
        outstanding_points=r.outstanding_points,
        value_fen=r.value_fen,
        by_expiry_month=[ExpiryBucketOut(**b.__dict__) for b in r.by_expiry_month],
        breakage_rate_bp=r.breakage_rate_bp,
        estimated_breakage_points=r.estimated_breakage_points,
        estimated_breakage_fen=r.estimated_breakage_fen,
        reserve_fen=r.reserve.reserve_fen,
        coverage=coverage_text(r.reserve),
    )


class JobsIn(Strict):
    until: date | None = None


class DayOut(BaseModel):
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


class ClockIn(Strict):
    now: UtcDatetime


class ClockOut(BaseModel):
    now: datetime
