"""Request bodies: every one refuses fields it does not know (``extra="forbid"``).

Limits come from where they are decided: ids from the ledger (``jifen.api._types.ID``), merchant
ids from ``jifen.alliance.merchants.MERCHANT_ID``, the redemption code's length from
``jifen.alliance.redemptions.CODE_DIGITS``, consent purposes from
``jifen.alliance.members.PURPOSES`` (a ``Literal`` checked against it, since a type cannot be
built from a tuple), statuses from the services' enums.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jifen.alliance.members import PURPOSES
from jifen.alliance.merchants import MERCHANT_ID, MerchantStatus
from jifen.alliance.redemptions import CODE_DIGITS
from jifen.api._types import ID, Fen, Phone, Points, Ref, Text, UtcDatetime, hinted
from jifen.rules import MAX_REASON_CHARS

Purpose = Literal["terms", "privacy", "marketing"]
assert get_args(Purpose) == PURPOSES, "the consent purposes are jifen.alliance.members.PURPOSES"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- rules ---------------------------------------------------------------------------------------


class PublishIn(Strict):
    effective_at: UtcDatetime
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class WithdrawIn(Strict):
    reason: str = Field(
        min_length=1, max_length=MAX_REASON_CHARS, description="撤回理由（公开）/ why (public)"
    )


# -- merchants and members -------------------------------------------------------------------------


class StoreIn(Strict):
    store_id: Ref = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=100)
    city: str = Field(default="", max_length=50)


class KycIn(Strict):
    legal_name: str = Field(min_length=1, max_length=200, description="营业执照名称")
    licence_no: Annotated[Text, hinted("licence_no")] = Field(
        pattern=r"^[0-9A-Z]{18}$", description="统一社会信用代码"
    )
    contact_name: str = Field(default="", max_length=50)


class MerchantIn(Strict):
    merchant_id: Annotated[Text, hinted("merchant_id")] = Field(pattern=f"^{MERCHANT_ID.pattern}$")
    name: str = Field(min_length=1, max_length=200)
    category: Annotated[Text, hinted("category")] = Field(
        pattern=r"^[a-z_]{1,32}$", description="行业 / trade, e.g. cafe"
    )
    kyc: KycIn
    stores: list[StoreIn] = Field(default_factory=list, max_length=200)


class StatusIn(Strict):
    status: MerchantStatus


class MemberIn(Strict):
    phone: Phone = Field(
        min_length=11,
        max_length=20,
        pattern=r"^[ \t-]*(?:\+86|0086)?[ \t-]*1[ \t-]*[3-9](?:[ \t-]*[0-9]){9}[ \t-]*$",
        description="中国大陆手机号，11 位数字（可带 +86、空格或连字符）/ a mainland mobile number",
    )
    consents: dict[Purpose, bool]


# -- orders and redemptions ----------------------------------------------------------------------


class OrderIn(Strict):
    order_ref: Ref = Field(pattern=ID)
    member_id: Ref = Field(pattern=ID)
    amount_fen: Fen
    paid_at: UtcDatetime


class RefundIn(Strict):
    refund_ref: Ref = Field(pattern=ID)
    refund_fen: Fen


class RedemptionIn(Strict):
    code: Annotated[Text, hinted("redemption_code")] = Field(pattern=f"^[0-9]{{{CODE_DIGITS}}}$")
    points: Points
    order_ref: Ref = Field(pattern=ID)
    order_amount_fen: Fen


# -- jobs and the clock ----------------------------------------------------------------------------


class JobsIn(Strict):
    until: date | None = None

    @field_validator("until", mode="before")
    @classmethod
    def _a_date_is_text(cls, value: object) -> object:
        """``"2026-03-01"``, never a number (pydantic would read 5 as a Unix time)."""
        if value is not None and not isinstance(value, str):
            raise ValueError("until 须为 YYYY-MM-DD / until is a YYYY-MM-DD date")
        return value


class ClockIn(Strict):
    now: UtcDatetime
