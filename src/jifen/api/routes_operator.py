"""Operator (平台方): rules, merchants, members, reports, jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse
from pydantic import RootModel
from sqlalchemy import Connection

from jifen.alliance import members, merchants
from jifen.api.auth import Ctx, Operator, OperatorOrMerchant
from jifen.api.idempotency import IdemKey, Limit, Work, once, once_in_steps
from jifen.api.schemas import (
    AccountOut,
    ClockIn,
    ClockOut,
    DayOut,
    JobsIn,
    LiabilitiesOut,
    MemberIn,
    MemberOut,
    MerchantCreated,
    MerchantIn,
    MerchantOut,
    MerchantPage,
    PublishIn,
    RuleVersionOut,
    StatusIn,
    TokenOut,
    WithdrawIn,
    day_out,
    liabilities_out,
    member_for_merchant,
    version_out,
)
from jifen.app.clock import SimulatedClock
from jifen.app.context import Context
from jifen.app.rulebook import view, views_at
from jifen.errors import InvalidRequest
from jifen.jobs import run_jobs
from jifen.rules import RuleDocument, status_at
from jifen.settlement import liabilities, reserve_status

router = APIRouter(prefix="/v1", tags=["operator 平台方"])
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


def version_answer(ctx: Context, number: int, conn: Connection | None = None) -> RuleVersionOut:
    v = ctx.rulebook.get(number, conn=conn)
    return version_out(view(v, status_at(v, ctx.rulebook.versions(conn=conn), ctx.clock.now())))


@router.post("/rules/drafts", response_model=RuleVersionOut, status_code=201)
def create_draft(
    request: Request, ctx: Ctx, who: Operator, document: RuleDocument, key: IdemKey = None
) -> JSONResponse:
    """起草规则版本 / save a draft rule version (validated against the published schema)."""
    return once(request, who, key, document, drafting(ctx, document), 201)


# -- the units of work of the operator's writes: the API's routes and the operator console's
# forms (jifen.web.operator) run the same ones, so a page writes exactly what the API would


def drafting(ctx: Context, document: RuleDocument) -> Work:
    return lambda tx: version_answer(
        ctx, ctx.rulebook.draft(document, ctx.clock.now(), conn=tx).number, tx
    )


def publication(ctx: Context, number: int, body: PublishIn) -> Work:
    def run(tx: Connection) -> RuleVersionOut:
        outstanding = reserve_status(ctx, conn=tx).outstanding_points > 0
        ctx.rulebook.publish(
            number,
            effective_at=body.effective_at,
            reason=body.reason,
            now=ctx.clock.now(),
            points_outstanding=outstanding,
            conn=tx,
        )
        return version_answer(ctx, number, tx)

    return run


def withdrawal(ctx: Context, number: int, body: WithdrawIn) -> Work:
    def run(tx: Connection) -> RuleVersionOut:
        ctx.rulebook.withdraw(number, reason=body.reason, now=ctx.clock.now(), conn=tx)
        return version_answer(ctx, number, tx)

    return run


def onboarding(ctx: Context, body: MerchantIn) -> Work:
    def run(tx: Connection) -> MerchantCreated:
        merchant, api_key = merchants.create_merchant(
            ctx,
            merchants.Merchant(
                merchant_id=body.merchant_id,
                name=body.name,
                category=body.category,
                status=merchants.MerchantStatus.ACTIVE,
                kyc=body.kyc.model_dump(),
                stores=tuple(merchants.Store(**s.model_dump()) for s in body.stores),
            ),
            ctx.clock.now(),
            conn=tx,
        )
        return MerchantCreated(merchant=MerchantOut.model_validate(merchant), api_key=api_key)

    return run


@router.get("/rules/versions", response_model=list[RuleVersionOut])
def all_versions(ctx: Ctx, who: Operator) -> list[RuleVersionOut]:
    return [version_out(v) for v in views_at(ctx.rulebook.versions(), ctx.clock.now())]


@router.post("/rules/versions/{number}/publish", response_model=RuleVersionOut)
def publish(
    request: Request,
    ctx: Ctx,
    who: Operator,
    number: VersionNumber,
    body: PublishIn,
    key: IdemKey = None,
) -> JSONResponse:
    """公示规则 / publish: notice ≥ the current version's notice_days; no rights reduced."""
    return once(request, who, key, body, publication(ctx, number, body))


@router.post("/rules/versions/{number}/withdraw", response_model=RuleVersionOut)
def withdraw(
    request: Request,
    ctx: Ctx,
    who: Operator,
    number: VersionNumber,
    body: WithdrawIn,
    key: IdemKey = None,
) -> JSONResponse:
    """撤回已公示、未生效的版本 / withdraw an announced version before it takes effect."""
    return once(request, who, key, body, withdrawal(ctx, number, body))


@router.post("/merchants", response_model=MerchantCreated, status_code=201)
def create_merchant(
    request: Request, ctx: Ctx, who: Operator, body: MerchantIn, key: IdemKey = None
) -> JSONResponse:
    """商家入驻 / onboard a merchant; the response carries its API key, shown only once."""
    return once(request, who, key, body, onboarding(ctx, body), 201, secret="api_key")


@router.get("/merchants", response_model=MerchantPage)
def list_merchants(
    ctx: Ctx, who: Operator, cursor: str | None = None, limit: Limit = 50
) -> MerchantPage:
    return MerchantPage.model_validate(merchants.list_merchants(ctx, cursor=cursor, limit=limit))


@router.get("/merchants/{merchant_id}", response_model=MerchantOut)
def get_merchant(ctx: Ctx, who: Operator, merchant_id: str) -> MerchantOut:
    return MerchantOut.model_validate(merchants.get_merchant(ctx, merchant_id))


@router.post("/merchants/{merchant_id}/status", response_model=MerchantOut)
def set_merchant_status(
    request: Request, ctx: Ctx, who: Operator, merchant_id: str, body: StatusIn, key: IdemKey = None
) -> JSONResponse:
    """暂停、恢复或关闭商家 / suspend, reactivate or close a merchant."""
    answer = once(
        request, who, key, body,
        lambda tx: MerchantOut.model_validate(
            merchants.set_status(ctx, merchant_id, body.status, ctx.clock.now(), conn=tx)
        ),
    )  # fmt: skip
    request.app.state.key_cache.clear()  # a suspension revoked the merchant's keys
    return answer


@router.post("/members", response_model=MemberOut, status_code=201)
def enrol_member(
    request: Request, ctx: Ctx, who: OperatorOrMerchant, body: MemberIn, key: IdemKey = None
) -> JSONResponse:
    """会员注册（运营方或商家收银台）/ enrol a member (operator, or a merchant at checkout)."""
    consents = {str(purpose): granted for purpose, granted in body.consents.items()}

    def run(tx: Connection) -> MemberOut:
        if who.role == "merchant":
            assert who.merchant_id is not None
            merchants.active_merchant(ctx, who.merchant_id, conn=tx)
        member = members.enrol(ctx, body.phone, consents, ctx.clock.now(), conn=tx)
        # a merchant learns the member id and the masked number it typed, nothing else, and the
        # same answer whether or not the person was already a member (docs/api.md)
        if who.role == "operator":
            return MemberOut.model_validate(member)
        return member_for_merchant(member)

    return once(request, who, key, body, run, 201)


@router.get("/members/{member_id}", response_model=MemberOut)
def get_member(ctx: Ctx, who: Operator, member_id: str) -> MemberOut:
    return MemberOut.model_validate(members.get_member(ctx, member_id))


@router.get("/members/{member_id}/account", response_model=AccountOut)
def member_account(ctx: Ctx, who: Operator, member_id: str) -> AccountOut:
    return AccountOut.model_validate(members.account(ctx, member_id, ctx.clock.now()))


@router.post("/members/{member_id}/tokens", response_model=TokenOut, status_code=201)
def member_token(
    request: Request, ctx: Ctx, who: Operator, member_id: str, key: IdemKey = None
) -> JSONResponse:
    """为会员 App 签发令牌 / issue a member token (the member app's login service calls this)."""

    def run(tx: Connection) -> TokenOut:
        token, expires = members.issue_token(ctx, member_id, ctx.clock.now(), conn=tx)
        return TokenOut(token=token, expires_at=expires)

    return once(request, who, key, None, run, 201, secret="token")


@router.get("/reports/liabilities", response_model=LiabilitiesOut)
def liability_report(ctx: Ctx, who: Operator) -> LiabilitiesOut:
    """负债报告 / outstanding points, value, expiry months, estimated breakage, reserve."""
    return liabilities_out(liabilities(ctx))


@router.post("/jobs/run", response_model=list[DayOut])
def jobs_run(
    request: Request, ctx: Ctx, who: Operator, body: JobsIn | None = None, key: IdemKey = None
) -> JSONResponse:
    """运行日终任务 / close business days: releases, expiries, reminders, settlement."""
    until = body.until if body else None

    def run() -> RootModel[list[DayOut]]:
        return RootModel[list[DayOut]]([day_out(d) for d in run_jobs(ctx, until)])

    return once_in_steps(request, who, key, body, run)


clock_router = APIRouter(prefix="/v1", tags=["operator 平台方"])


@clock_router.put("/clock", response_model=ClockOut, include_in_schema=False)
def set_clock(ctx: Ctx, who: Operator, body: Annotated[ClockIn, Body()]) -> ClockOut:
    """Move the simulated clock (mounted only by ``jifen serve --simulated-clock``)."""
    if not isinstance(ctx.clock, SimulatedClock):
        raise InvalidRequest("时钟不可调 / the clock is real", field="now", detail_key="clock_real")
    return ClockOut(now=ctx.clock.set(body.now))
