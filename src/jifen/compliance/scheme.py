"""A declarative description of a scheme as it is pitched: the parameters `schemes.md` and
`compliance.md` name, so the linter can judge a pitch without anyone building it.

``kind: scheme`` at the top tells a scheme description from a Jifen rule document. Every field
has a harmless default, so a description only needs to state what the pitch promises. Money is
fen, rates are basis points, and unknown keys are refused (a misspelt promise must not pass).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

_Int = Annotated[int, Strict()]
_Fen = Annotated[_Int, Field(ge=0, le=10**15)]
_Bp = Annotated[_Int, Field(ge=0, le=1_000_000)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SchemePoints(_Part):
    price_formula: Literal["fixed", "pool_over_circulation", "rises_with_volume"] = Field(
        default="fixed", description="积分价格如何确定 / how the point price is set"
    )
    cash_redeemable: bool = Field(default=False, description="积分可提现 / points → cash")
    guaranteed_cash_rate: bool = Field(default=False, description="保证兑现比率 / a fixed rate")
    redeem_haircut_bp: _Bp = Field(default=0, description="提现扣除比例 / cash-out haircut")
    exit_multiple_bp: _Bp = Field(default=0, description="封顶出局倍数 / forced exit multiple")
    release_rate_bp_per_day: _Bp = Field(default=0, description="每日释放比例 / daily release")
    rebate_ratio_bp: _Bp = Field(default=0, description="返利总额÷消费 / total rebate ÷ spend")
    sold_for_money: bool = Field(default=False, description="出售积分 / points sold for money")
    spendable_at_other_merchants: bool = Field(default=True, description="跨商户使用 / coalition")
    member_transfers: bool = Field(default=False, description="会员间转让 / member transfers")
    transfers_real_name: bool = Field(default=False, description="转让实名 / real-name only")
    member_sales: bool = Field(default=False, description="会员间买卖 / member-to-member sales")
    green_points: bool = Field(default=False, description="绿色积分 / green points")
    resale_allowed: bool = Field(default=False, description="允许倒卖 / resale allowed")


class SchemeTokens(_Part):
    enabled: bool = Field(default=False, description="通证/代币 / a token")
    exchange_listing: bool = Field(default=False, description="交易所上架 / exchange listing")
    points_token_swap: bool = Field(default=False, description="积分换通证 / points ↔ token")


class SchemeMembership(_Part):
    join_fee_fen: _Fen = Field(default=0, description="入门费 / fee to join or recruit")
    paid_tier_unlocks_commission: bool = Field(
        default=False, description="购买 VIP 才能拿佣金 / a purchase unlocks commissions"
    )
    agent_territory_fee_fen: _Fen = Field(default=0, description="区域代理费 / territory fee")
    franchise_filing_no: str | None = Field(default=None, description="特许经营备案号")


class SchemeReferral(_Part):
    commission_depth: _Int = Field(default=0, ge=0, le=1000, description="佣金层级 / levels")
    reward_per_recruit_fen: _Fen = Field(default=0, description="拉人头奖励 / per recruit")
    reward_references_recruit_count: bool = Field(
        default=False, description="奖励按下线人数计算 / pay by headcount"
    )
    max_payout_share_of_own_sales_bp: _Bp = Field(
        default=0, description="个人报酬÷本人直销额 / pay ÷ own direct sales"
    )


class SchemeScale(_Part):
    """How big it already is (for the criminal-threshold labels)."""

    participants: _Int = Field(default=0, ge=0)
    collected_fen: _Fen = 0
    max_tree_depth: _Int = Field(default=0, ge=0, description="层级（含发起人）/ levels, root too")
    largest_subtree: _Int = Field(default=0, ge=0, description="最大下线树人数 / nodes")


class SchemeDescription(_Part):
    kind: Literal["scheme"]
    name: str = Field(default="", max_length=200)
    channel: Literal["mini_program", "official_account", "app", "web", "offline"] = "app"
    funds_path: Literal["licensed_psp_profit_sharing", "platform_wallet"] = (
        "licensed_psp_profit_sharing"
    )
    notice_days: _Int = Field(default=30, ge=0, le=3650, description="规则变更提前公示天数")
    changes_issued_points: bool = Field(
        default=False, description="可变更已发积分的价值或期限 / may devalue issued points"
    )
    max_prize_fen: _Fen = Field(default=0, description="抽奖最高奖金额 / top lottery prize")
    points: SchemePoints = SchemePoints()
    tokens: SchemeTokens = SchemeTokens()
    membership: SchemeMembership = SchemeMembership()
    referral: SchemeReferral = SchemeReferral()
    scale: SchemeScale = SchemeScale()
