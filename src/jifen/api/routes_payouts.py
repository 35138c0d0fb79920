"""Referral payouts over HTTP (docs/referrals.md): a member registers as a payee and reads its
statements; the operator verifies payees, runs a payout batch and downloads the withholding
report. Each route is one ``jifen.promoters`` call.

The writes are idempotent by themselves (the same registration changes nothing, a payout batch is
numbered so a re-run resumes it) and are made of several transactions and a provider call, so an
``Idempotency-Key`` is honoured on top by ``once_in_steps``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from jifen.api.auth import Ctx, MemberCaller, Operator
from jifen.api.idempotency import IdemKey, Limit, once_in_steps
from jifen.api.routes_payments import _funds
from jifen.api.schemas import ID
from jifen.api.schemas._payouts import (
    BatchPage,
    BatchRunOut,
    PayeeIn,
    PayeeOut,
    PayoutsOut,
    VerificationIn,
    WithholdingOut,
    WithholdingRowOut,
)
from jifen.app.context import Context
from jifen.promoters import payees, statements
from jifen.promoters.payouts import list_batches, run_payout_batch

router = APIRouter(prefix="/v1", tags=["referral payouts 推荐佣金发放"])
MemberId = Annotated[str, Path(pattern=ID, description="会员编号 / the payee's member id")]
Year = Annotated[int, Query(ge=2000, le=2199, description="纳税年度 / the tax year")]
CSV_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "JSON, or CSV (UTF-8) with Accept: text/csv or ?format=csv",
    }
}


def _member(who: MemberCaller) -> str:
    assert who.member_id is not None
    return who.member_id


def _payee_out(found: payees.Payee) -> PayeeOut:
    return PayeeOut.model_validate(
        {**found.__dict__, "current_consent_version": payees.PAYEE_CONSENT_VERSION}
    )


@router.get("/me/payee", response_model=PayeeOut)
def my_payee(ctx: Ctx, who: MemberCaller) -> PayeeOut:
    """收款信息（仅显示掩码）/ my payee record, masked; 404 names the consent version to agree."""
    return _payee_out(payees.payee(ctx, _member(who)))


@router.put("/me/payee", response_model=PayeeOut)
def register_payee(
    request: Request, ctx: Ctx, who: MemberCaller, body: PayeeIn, key: IdemKey = None
) -> JSONResponse:
    """登记收款信息（须单独同意）/ register as a payee: real name, ID number, openid, consent."""
    reg = payees.Registration(
        body.real_name, body.id_number, body.account_kind, body.account, body.consent_version
    )
    return once_in_steps(
        request, who, key, body,
        lambda: _payee_out(payees.register(ctx, _member(who), reg, ctx.clock.now())),
    )  # fmt: skip


@router.get("/me/payouts", response_model=PayoutsOut)
def my_payouts(ctx: Ctx, who: MemberCaller, year: Year) -> PayoutsOut:
    """佣金发放与代扣个税：按月明细与年度汇总 / my payouts by month and the annual summary."""
    return _payouts_out(ctx, _member(who), year)


def _payouts_out(ctx: Context, member_id: str, year: int) -> PayoutsOut:
    summary = statements.annual_summary(ctx, member_id, year)
    owed = statements.owed(ctx, member_id)
    return PayoutsOut.model_validate(
        {
            **{k: v for k, v in summary.__dict__.items() if k != "member_id"},
            "months": [
                m.__dict__ | {"lines": [x.__dict__ for x in m.lines]} for m in summary.months
            ],
            "owed_fen": owed.fen,
            "awaiting_verification": owed.awaiting_verification,
        }
    )


@router.post("/payees/{member_id}/verification", response_model=PayeeOut)
def verify_payee(
    request: Request,
    ctx: Ctx,
    who: Operator,
    member_id: MemberId,
    body: VerificationIn,
    key: IdemKey = None,
) -> JSONResponse:
    """标记实名核验通过 / mark a payee's real name verified, with the check's reference."""
    return once_in_steps(
        request, who, key, body,
        lambda: _payee_out(payees.verify(ctx, member_id, body.reference, ctx.clock.now())),
    )  # fmt: skip


@router.post("/referral-payouts/run", response_model=BatchRunOut)
def run_batch(request: Request, ctx: Ctx, who: Operator, key: IdemKey = None) -> JSONResponse:
    """发放一次：跟进未完成批次，或生成并发出下一批 / one payout pass: follow or make a batch."""
    return once_in_steps(
        request, who, key, None,
        lambda: BatchRunOut.model_validate(
            run_payout_batch(ctx, _funds(request), ctx.clock.now()).__dict__
        ),
    )  # fmt: skip


@router.get("/referral-payouts", response_model=BatchPage)
def batches(ctx: Ctx, who: Operator, cursor: str | None = None, limit: Limit = 50) -> BatchPage:
    """佣金发放批次，新者在前 / payout batches, newest first."""
    return BatchPage.model_validate(list_batches(ctx, cursor=cursor, limit=limit))


@router.get("/reports/withholding", response_model=WithholdingOut, responses=CSV_OR_JSON)
def withholding(
    request: Request,
    ctx: Ctx,
    who: Operator,
    year: Year,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
    format: Literal["json", "csv"] | None = None,
) -> Response:
    """个税扣缴报表：每人每月一行，含姓名与身份证号 / the withholding report for filing."""
    rows = statements.withholding_rows(ctx, year, month)
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        name = f"withholding-{year:04d}{f'-{month:02d}' if month else ''}.csv"
        return Response(
            statements.withholding_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(
        WithholdingOut(
            year=year,
            month=month,
            rows=[WithholdingRowOut.model_validate(r) for r in rows],
            total_tax_fen=sum(r.tax_fen for r in rows),
            total_net_fen=sum(r.net_fen for r in rows),
        ).model_dump(mode="json")
    )
