"""Member (会员): only ever their own account — the token says who; no member id in the path."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from jifen.alliance import members, redemptions
from jifen.alliance.reminders import reminders
from jifen.api.auth import Ctx, MemberCaller
from jifen.api.idempotency import IdemKey, Limit, once
from jifen.api.schemas import AccountOut, CodeOut, HistoryPage, MemberOut
from jifen.api.schemas._webhooks import ReminderPage

router = APIRouter(prefix="/v1/me", tags=["member 会员"])


def _member(who: MemberCaller) -> str:
    assert who.member_id is not None
    return who.member_id


@router.get("", response_model=AccountOut)
def my_account(ctx: Ctx, who: MemberCaller) -> AccountOut:
    """余额：可用、待发放（含发放日期）、即将过期 / balance, pending with dates, expiring soon."""
    return AccountOut.model_validate(members.account(ctx, _member(who), ctx.clock.now()))


@router.get("/profile", response_model=MemberOut)
def my_profile(ctx: Ctx, who: MemberCaller) -> MemberOut:
    return MemberOut.model_validate(members.get_member(ctx, _member(who)))


@router.get("/history", response_model=HistoryPage)
def my_history(
    ctx: Ctx, who: MemberCaller, cursor: str | None = None, limit: Limit = 50
) -> HistoryPage:
    """积分明细：每行注明订单与规则版本 / each line names its order and rule version."""
    return HistoryPage.model_validate(
        members.history(ctx, _member(who), cursor=cursor, limit=limit)
    )


@router.get("/reminders", response_model=ReminderPage)
def my_reminders(
    ctx: Ctx, who: MemberCaller, cursor: str | None = None, limit: Limit = 50
) -> ReminderPage:
    """积分到期提醒：每个营业日一条，列出 30 天内到期的积分 / expiry reminders, newest day first."""
    return ReminderPage.model_validate(reminders(ctx, _member(who), cursor=cursor, limit=limit))


@router.post("/redemption-codes", response_model=CodeOut, status_code=201)
def new_code(request: Request, ctx: Ctx, who: MemberCaller, key: IdemKey = None) -> JSONResponse:
    """生成一次性核销码（5 分钟有效）/ a one-time redemption code, valid five minutes."""

    def run(tx: Connection) -> CodeOut:
        code, expires = redemptions.new_code(ctx, _member(who), ctx.clock.now(), conn=tx)
        return CodeOut(code=code, expires_at=expires)

    return once(request, who, key, None, run, 201, secret="code")
