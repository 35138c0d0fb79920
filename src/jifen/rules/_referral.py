"""The referral terms of a rule document (brief §8; compliance PYR-1..3, PYR-8).

Rewards are only ever a share of real purchases: of a referred member's paid order amount (the
direct referrer, and at depth 2 the referrer's referrer) or of a recruited merchant's order flow
for a limited number of months. Shares are basis points of the order amount; caps are fen per
promoter per calendar month. There is deliberately no field for a reward per recruit, an entry
fee or a territory: the document cannot say them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict

from jifen.rules._frozen import Frozen

_Int = Annotated[int, Strict()]
MAX_DEPTH = 2
"""Referral rewards reach at most two levels (the referrer and the referrer's referrer)."""
MAX_SHARE_BP = 3_000
"""No share above 30% of an order (直销管理条例 art 24's ceiling on a seller's own sales)."""


class ReferralRules(Frozen):
    """Who earns what share of which purchases. All zero (the default) = no referral rewards."""

    depth: _Int = Field(
        default=1,
        ge=1,
        le=MAX_DEPTH,
        description="推荐奖励层级（1 或 2）/ Levels of referrers rewarded (1 or 2)",
    )
    direct_bp: _Int = Field(
        default=0,
        ge=0,
        le=MAX_SHARE_BP,
        description="直接推荐人分成（实付金额基点）/ Direct referrer's share of the paid order, bp",
    )
    indirect_bp: _Int = Field(
        default=0,
        ge=0,
        le=MAX_SHARE_BP,
        description="间接推荐人分成（基点，仅层级2）/ Referrer's referrer's share, bp (depth 2)",
    )
    recruiter_bp: _Int = Field(
        default=0,
        ge=0,
        le=MAX_SHARE_BP,
        description="商户招募人分成（订单流水基点）/ Recruiter's share of a merchant's orders, bp",
    )
    recruiter_months: _Int = Field(
        default=12,
        ge=1,
        le=36,
        description="招募人分成月数 / Months a recruiter shares a merchant's orders",
    )
    monthly_cap_fen: _Int | None = Field(
        default=None,
        ge=1,
        description="每人每月奖励上限（分）/ Cap on one promoter's rewards per month, fen",
    )
    funded_by: Literal["operator_revenue"] = Field(
        default="operator_revenue",
        description="奖励资金来源：运营方收入，不动用积分备付金 / "
        "Paid from the operator's revenue, never the points reserve",
    )
