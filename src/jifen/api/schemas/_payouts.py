"""Bodies of referral payouts (``/v1/me/payee``, ``/v1/me/payouts``, the operator's payee
verification, payout batches and the withholding report): ``jifen.promoters``' values on the
wire; amounts in integer fen. A payee's identity comes in, never goes out: only masks do."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from jifen.api._types import Text
from jifen.api.schemas._in import Strict
from jifen.api.schemas._out import Page, _Out


class PayeeIn(Strict):
    real_name: str = Field(min_length=2, max_length=64, description="真实姓名 / real name")
    id_number: Text = Field(
        pattern=r"^[0-9]{17}[0-9Xx]$",
        description="居民身份证号 / resident ID number, 18 characters",
    )
    account_kind: Literal["wechat_openid", "bank_card"] = Field(
        description="收款方式；暂仅支持微信零钱 / payout identity; only wechat_openid for now"
    )
    account: Text = Field(min_length=1, max_length=128, description="openid")
    consent_version: str | None = Field(
        default=None,
        max_length=32,
        description="同意的收款信息处理说明版本 / the consent text version agreed to (separate "
        "consent, PIPL art 29)",
    )


class PayeeOut(_Out):
    member_id: str
    name_mask: str
    id_mask: str
    account_kind: str
    account_hint: str
    consent_version: str | None
    consented_at: datetime | None
    verified_at: datetime | None
    verification_ref: str | None
    payable: bool = Field(description="已核验且同意：下一批次发放 / verified and consenting")
    created_at: datetime
    updated_at: datetime
    current_consent_version: str


class VerificationIn(Strict):
    reference: Text = Field(
        pattern=r"^[A-Za-z0-9._:/@-]{1,128}$",
        description="实名核验编号（核验服务商或支付机构）/ the real-name check's reference",
    )


class StatementLineOut(_Out):
    batch_id: str
    gross_fen: int
    tax_fen: int
    net_fen: int
    paid_at: datetime | None
    orders: list[str]


class MonthStatementOut(_Out):
    month: str
    method: str
    gross_fen: int
    tax_fen: int
    net_fen: int
    lines: list[StatementLineOut]


class PayoutsOut(_Out):
    """A payee's year: months paid, the annual summary (TAX-3) and what is still owed."""

    year: int
    months: list[MonthStatementOut]
    gross_fen: int
    income_amount_fen: int = Field(description="收入额 (80%) for the annual reconciliation")
    tax_fen: int
    net_fen: int
    reconcile_from: str
    reconcile_until: str
    owed_fen: int
    awaiting_verification: bool


class BatchRunOut(_Out):
    batch_id: str | None
    state: str | None
    lines_paid: int
    lines_failed: int


class BatchOut(_Out):
    batch_id: str
    period: str
    method: str
    state: str
    total_gross_fen: int
    total_tax_fen: int
    total_net_fen: int
    provider_batch_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    lines: int


class BatchPage(Page[BatchOut]):
    pass


class WithholdingRowOut(_Out):
    month: str
    member_id: str
    real_name: str
    id_number: str
    method: str
    gross_fen: int
    taxable_fen: int
    rate_bp: int
    quick_deduction_fen: int
    tax_fen: int
    net_fen: int


class WithholdingOut(_Out):
    year: int
    month: int | None
    rows: list[WithholdingRowOut]
    total_tax_fen: int
    total_net_fen: int
