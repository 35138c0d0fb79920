"""Referrals (推荐, docs/referrals.md): a member's promoter code, binding to a referrer, and the
rewards a promoter is owed; the operator's changes to referrers and recruiters (with a reason,
audited); a merchant's view of the rewards its own orders carried (paid by the operator)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from jifen.api.auth import Ctx, MemberCaller, MerchantCaller, Operator
from jifen.api.idempotency import IdemKey, Limit, once
from jifen.api.schemas import ID
from jifen.api.schemas._referrals import (
    BindIn,
    BindingOut,
    RecruiterOut,
    ReferralOut,
    ReferrerIn,
    RewardPage,
)
from jifen.promoters import (
    bind_by_code,
    bind_recruiter,
    change_referrer,
    list_rewards,
    promoter_code,
    referrer_of,
    share_path,
)

router = APIRouter(prefix="/v1", tags=["referrals 推荐"])
MemberId = Annotated[str, Path(pattern=ID, description="会员编号 / the member's id")]
MerchantId = Annotated[str, Path(pattern=ID, description="商家编号 / the merchant's id")]
State = Literal["pending", "accrued", "reversed"]


def _member(who: MemberCaller) -> str:
    assert who.member_id is not None
    return who.member_id


# -- members -------------------------------------------------------------------------------------


@router.get("/me/referral", response_model=ReferralOut)
def my_referral(ctx: Ctx, who: MemberCaller) -> ReferralOut:
    """我的推荐码、分享链接与推荐人 / my promoter code, my share link and who referred me."""
    member_id = _member(who)
    code = promoter_code(ctx, member_id)
    held = referrer_of(ctx, member_id)
    return ReferralOut(
        promoter_code=code,
        share_path=share_path(code),
        referrer=BindingOut.model_validate(held) if held else None,
    )


@router.post("/me/referral/bind", response_model=BindingOut)
def bind(
    request: Request, ctx: Ctx, who: MemberCaller, body: BindIn, key: IdemKey = None
) -> JSONResponse:
    """首次扫码或打开分享链接时绑定推荐人（只绑定一次）/ bind my referrer, once: the same code
    again answers the binding; another promoter's is refused (only the operator changes it)."""
    return once(
        request, who, key, body,
        lambda tx: BindingOut.model_validate(
            bind_by_code(ctx, _member(who), body.code, body.source, conn=tx)
        ),
    )  # fmt: skip


@router.get("/me/rewards", response_model=RewardPage)
def my_rewards(
    ctx: Ctx, who: MemberCaller, state: State | None = None, cursor: str | None = None,
    limit: Limit = 50,
) -> RewardPage:  # fmt: skip
    """我作为推荐人的奖励，每条注明来源订单 / my rewards as a promoter, each with its order."""
    page = list_rewards(ctx, promoter_id=_member(who), state=state, cursor=cursor, limit=limit)
    return RewardPage.model_validate(page)


# -- the operator --------------------------------------------------------------------------------


@router.put("/members/{member_id}/referrer", response_model=BindingOut)
def set_referrer(
    request: Request, ctx: Ctx, who: Operator, member_id: MemberId, body: ReferrerIn,
    key: IdemKey = None,
) -> JSONResponse:  # fmt: skip
    """设置或更改会员的推荐人（须说明理由，记入审计）/ set or change a member's referrer, with a
    reason in the audit records; a cycle is refused."""
    return once(
        request, who, key, body,
        lambda tx: BindingOut.model_validate(
            change_referrer(ctx, member_id, body.promoter_id, body.reason, who.actor, conn=tx)
        ),
    )  # fmt: skip


@router.put("/merchants/{merchant_id}/recruiter", response_model=RecruiterOut)
def set_recruiter(
    request: Request, ctx: Ctx, who: Operator, merchant_id: MerchantId, body: ReferrerIn,
    key: IdemKey = None,
) -> JSONResponse:  # fmt: skip
    """设置或更改商家的招募人（须说明理由，记入审计）/ set or change a merchant's recruiter, with
    a reason; its months of sharing the merchant's orders start now."""
    return once(
        request, who, key, body,
        lambda tx: RecruiterOut.model_validate(
            bind_recruiter(ctx, merchant_id, body.promoter_id, reason=body.reason,
                           actor=who.actor, conn=tx)
        ),
    )  # fmt: skip


@router.get("/referrals/rewards", response_model=RewardPage)
def rewards(
    ctx: Ctx, who: Operator, promoter_id: Annotated[str | None, Query(pattern=ID)] = None,
    state: State | None = None, cursor: str | None = None, limit: Limit = 50,
) -> RewardPage:  # fmt: skip
    """推荐奖励（可按推荐人、状态筛选）/ referral rewards, by promoter and state."""
    page = list_rewards(ctx, promoter_id=promoter_id, state=state, cursor=cursor, limit=limit)
    return RewardPage.model_validate(page)


# -- merchants -----------------------------------------------------------------------------------


@router.get("/merchant/referral-rewards", response_model=RewardPage)
def merchant_rewards(
    ctx: Ctx, who: MerchantCaller, state: State | None = None, cursor: str | None = None,
    limit: Limit = 50,
) -> RewardPage:  # fmt: skip
    """本商家订单带来的推荐奖励（由运营方收入支付）/ the referral rewards the merchant's own
    orders carried: paid from the operator's revenue, never the merchant's."""
    assert who.merchant_id is not None
    page = list_rewards(ctx, merchant_id=who.merchant_id, state=state, cursor=cursor, limit=limit)
    return RewardPage.model_validate(page)
