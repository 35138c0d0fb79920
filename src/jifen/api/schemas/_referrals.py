"""Bodies of the referral routes (docs/referrals.md): a member's promoter code and referrer,
binding by code, the operator's changes with a reason, and rewards as money owed (fen)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from jifen.api._types import ID, NOT_BLANK, Text
from jifen.api.schemas._in import Strict
from jifen.api.schemas._out import Page, _Out
from jifen.promoters.graph import MAX_REASON_CHARS

CODE = r"^[A-Za-z0-9._-]{1,64}-[0-9a-f]{8}$"


class BindIn(Strict):
    code: str = Field(pattern=CODE, description="推荐人的推荐码 / the promoter's code")
    source: Literal["scan", "link"] = Field(
        default="scan", description="扫码或分享链接 / scanned a code, or opened a shared link"
    )


class ReferrerIn(Strict):
    promoter_id: str = Field(pattern=ID, description="推荐人（会员编号）/ the promoter's member id")
    reason: Text = Field(
        min_length=1,
        max_length=MAX_REASON_CHARS,
        pattern=NOT_BLANK,
        description="更改理由（审计）/ why (audited)",
    )


class BindingOut(_Out):
    member_id: str
    promoter_id: str
    source: str = Field(description="scan | link | operator")
    bound_at: datetime
    changed_at: datetime | None = Field(
        description="运营方最近更改时间 / the operator's last change"
    )


class RecruiterOut(_Out):
    merchant_id: str
    promoter_id: str
    bound_at: datetime = Field(
        description="招募分成月数自此起算 / the recruiter's months start here"
    )
    changed_at: datetime | None


class ReferralOut(_Out):
    promoter_code: str = Field(
        description="我的推荐码（二维码内容）/ my code, what my QR code holds"
    )
    share_path: str = Field(description="分享链接路径 / the path of my share link")
    referrer: BindingOut | None = Field(description="我的推荐人 / who referred me, if anyone")


class RewardOut(_Out):
    reward_id: str
    promoter_id: str
    kind: str = Field(description="direct | indirect | recruiter")
    member_id: str = Field(description="下单会员 / who bought")
    merchant_id: str
    order_ref: str = Field(description="奖励来源订单 / the order the reward came from")
    share_bp: int = Field(description="分成（基点）/ the share, basis points")
    order_fen: int = Field(description="订单实付（分）/ the order's paid amount, fen")
    basis_fen: int = Field(
        description="退货期结束时的计算基数（分）/ what is left of the order at the window's end"
    )
    fen: int = Field(
        description="奖励（分；待结算时按全额估算）/ the reward, fen (pending: on the whole order)"
    )
    capped_fen: int = Field(description="月度上限扣减（分）/ what the monthly cap took off, fen")
    funded_by: str = Field(description="资金来源 / who pays it: operator_revenue")
    state: str = Field(description="pending | accrued | reversed")
    paid_at: datetime
    due_at: datetime = Field(description="退货期结束 / the end of the order's return window")
    settled_at: datetime | None
    month: str | None = Field(description="计入月份 YYYY-MM / the month it counts in (the cap's)")


class RewardPage(Page[RewardOut]):
    pass
