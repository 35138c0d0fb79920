"""The money path over HTTP: the provider's notifications, a merchant's payments, refunds,
fulfilment, receivers, split plans and payouts, and the operator's provider accounts, payouts
and large-value alerts. Each route translates to one ``jifen.funds`` call and back.

Writes are idempotent on their business identity (the order's ``order_ref``, the refund's
``refund_ref``), which is also the number the provider sees; an ``Idempotency-Key`` is honoured
on top, like every write of the API.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from jifen import funds
from jifen.api.auth import Ctx, MerchantCaller, Operator
from jifen.api.idempotency import IdemKey, Limit, once, once_in_steps
from jifen.api.schemas import ID, Problem
from jifen.api.schemas._payments import (
    AlertPage,
    FulfilmentIn,
    PaymentIn,
    PaymentOut,
    PaymentRefundIn,
    PaymentRefundOut,
    PayoutPage,
    ProviderAccountIn,
    ProviderAccountOut,
    ReceiverIn,
    ReceiverOut,
    ReconciliationOut,
    SplitOrderOut,
    SplitPlanOut,
)
from jifen.app.context import Context
from jifen.funds.reconciliation import latest_report
from jifen.funds.records import split_orders
from jifen.payments import Condition, NotificationRefused, SplitPlan

log = logging.getLogger("jifen.api")

router = APIRouter(prefix="/v1", tags=["payments 支付与分账"])
notify_router = APIRouter(prefix="/v1/providers", tags=["provider 支付机构回调"])
TradeNo = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,32}$", description="out_trade_no")]
MerchantId = Annotated[str, Path(pattern=ID)]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem},
    409: {"model": Problem},
    503: {"model": Problem},
}


def _funds(request: Request) -> funds.Funds:
    """The provider, asked for inside a write (after its Idempotency-Key is checked)."""
    found: funds.Funds | None = getattr(request.app.state, "funds", None)
    if found is None:
        raise funds.NotConfigured(
            "未配置支付机构 / no payment provider is configured (jifen serve --provider)"
        )
    return found


Funds = Annotated[funds.Funds, Depends(_funds)]


def _merchant(who: MerchantCaller) -> str:
    assert who.merchant_id is not None
    return who.merchant_id


def payment_out(ctx: Context, payment: funds.Payment, conn: Connection | None = None) -> PaymentOut:
    """A payment with its split instructions and refunds, as a merchant follows it."""
    with ctx.reading(conn) as c:
        splits = split_orders(c, out_trade_no=payment.out_trade_no)
    out = PaymentOut.model_validate(payment)
    out.splits = [SplitOrderOut.model_validate(s) for s in splits]
    out.refunds = [
        PaymentRefundOut.model_validate(r)
        for r in funds.refunds_of(ctx, payment.out_trade_no, conn=conn)
    ]
    return out


@notify_router.post(
    "/{provider}/notify",
    status_code=204,
    responses={401: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
async def notify(request: Request, provider: str, ctx: Ctx, money: Funds) -> Response:
    """支付机构回调 / the provider's callback: verified and decrypted, then applied once. One that
    does not verify is refused (401) and logged, and changes nothing."""
    body = await request.body()
    if provider != money.provider.name:
        raise funds.PaymentNotFound(
            "没有这个支付机构 / no such provider", provider=provider, detail_key="provider"
        )
    try:
        await run_in_threadpool(funds.handle_notification, ctx, money, dict(request.headers), body)
    except NotificationRefused:
        log.warning("a provider notification was refused", extra={"provider": provider})
        raise
    return Response(status_code=204)


# -- the merchant -------------------------------------------------------------------------------


@router.post("/payments", response_model=PaymentOut, status_code=201, responses=PROBLEMS)
def create_payment(
    request: Request,
    ctx: Ctx,
    who: MerchantCaller,
    body: PaymentIn,
    key: IdemKey = None,
) -> JSONResponse:
    """发起支付 / ask the provider for a payment of an order (held for splitting): the member
    pays it with ``pay_url``; the points come with the provider's notification."""

    def run() -> PaymentOut:
        payment = funds.create_payment(
            ctx,
            _funds(request),
            _merchant(who),
            order_ref=body.order_ref,
            member_id=body.member_id,
            amount_fen=body.amount_fen,
            description=body.description,
            method=body.method,
            payer_openid=body.payer_openid,
        )
        return payment_out(ctx, payment)

    return once_in_steps(request, who, key, body, run, 201)


@router.get("/payments/{out_trade_no}", response_model=PaymentOut, responses=PROBLEMS)
def get_payment(ctx: Ctx, who: MerchantCaller, out_trade_no: TradeNo) -> PaymentOut:
    """支付、分账与退款进度 / a payment, its splits and its refunds."""
    return payment_out(ctx, funds.get_payment(ctx, out_trade_no, merchant_id=_merchant(who)))


@router.post(
    "/payments/{out_trade_no}/refunds",
    response_model=PaymentRefundOut,
    status_code=202,
    responses=PROBLEMS,
)
def refund_payment(
    request: Request,
    ctx: Ctx,
    who: MerchantCaller,
    out_trade_no: TradeNo,
    body: PaymentRefundIn,
    key: IdemKey = None,
) -> JSONResponse:
    """退款 / refund: points clawed back now; the splits are returned, then the customer is
    paid back (follow ``state``)."""
    return once(
        request,
        who,
        key,
        body,
        lambda tx: PaymentRefundOut.model_validate(
            funds.request_refund(
                ctx,
                _merchant(who),
                out_trade_no,
                refund_ref=body.refund_ref,
                refund_fen=body.refund_fen,
                conn=tx,
            )
        ),
        202,
    )


@router.post("/payments/{out_trade_no}/fulfilment", response_model=PaymentOut, responses=PROBLEMS)
def fulfil(
    request: Request,
    ctx: Ctx,
    who: MerchantCaller,
    out_trade_no: TradeNo,
    body: FulfilmentIn,
    key: IdemKey = None,
) -> JSONResponse:
    """确认发货或收货 / shipped or received: the plan's parts for that moment are split."""

    def run(tx: Connection) -> PaymentOut:
        funds.fulfil(ctx, _merchant(who), out_trade_no, Condition(body.event), conn=tx)
        return payment_out(ctx, funds.get_payment(ctx, out_trade_no, conn=tx), tx)

    return once(request, who, key, body, run)


@router.post("/split-receivers", response_model=ReceiverOut, status_code=201, responses=PROBLEMS)
def add_receiver(
    request: Request,
    ctx: Ctx,
    who: MerchantCaller,
    body: ReceiverIn,
    key: IdemKey = None,
) -> JSONResponse:
    """登记分账接收方 / register a receiver of the merchant's plan with the provider."""
    return once_in_steps(
        request,
        who,
        key,
        body,
        lambda: ReceiverOut.model_validate(
            funds.register_receiver(
                ctx,
                _funds(request),
                _merchant(who),
                name=body.name,
                type=body.type,
                account=body.account,
                real_name=body.real_name,
                relation=body.relation,
            )
        ),
        201,
    )


@router.post("/split-plans", response_model=SplitPlanOut, status_code=201, responses=PROBLEMS)
def file_plan(
    request: Request, ctx: Ctx, who: MerchantCaller, body: SplitPlan, key: IdemKey = None
) -> JSONResponse:
    """报备分账方案 / file a new version of the split plan: payments created from now use it."""
    return once(
        request,
        who,
        key,
        body,
        lambda tx: SplitPlanOut.model_validate(funds.file_plan(ctx, _merchant(who), body, conn=tx)),
        201,
    )


@router.get("/split-plans/current", response_model=SplitPlanOut, responses=PROBLEMS)
def current_plan(ctx: Ctx, who: MerchantCaller) -> SplitPlanOut:
    found = funds.plan_version(ctx, _merchant(who))
    if found is None:
        raise funds.PaymentNotFound(
            "尚未报备分账方案 / no split plan filed yet", detail_key="split_plan"
        )
    return SplitPlanOut.model_validate(found)


@router.get("/payouts", response_model=PayoutPage)
def my_payouts(
    ctx: Ctx, who: MerchantCaller, cursor: str | None = None, limit: Limit = 50
) -> PayoutPage:
    """结算付款 / what the reserve paid the merchant, newest day first."""
    return PayoutPage.model_validate(
        funds.list_payouts(ctx, merchant_id=_merchant(who), cursor=cursor, limit=limit)
    )


# -- the operator -------------------------------------------------------------------------------


@router.put(
    "/operator/merchants/{merchant_id}/provider-account",
    response_model=ProviderAccountOut,
    responses=PROBLEMS,
)
def link_merchant(
    request: Request,
    ctx: Ctx,
    who: Operator,
    merchant_id: MerchantId,
    body: ProviderAccountIn,
    key: IdemKey = None,
) -> JSONResponse:
    """关联商家的支付机构商户号 / link a merchant to its provider account; registers the
    reserve and the fee as its receivers."""
    return once_in_steps(
        request,
        who,
        key,
        body,
        lambda: ProviderAccountOut.model_validate(
            funds.link_merchant(
                ctx,
                _funds(request),
                merchant_id,
                account=body.account,
                max_ratio_bp=body.max_ratio_bp,
            )
        ),
    )


@router.get("/operator/payouts", response_model=PayoutPage)
def all_payouts(
    ctx: Ctx, who: Operator, cursor: str | None = None, limit: Limit = 50
) -> PayoutPage:
    return PayoutPage.model_validate(
        funds.list_payouts(ctx, merchant_id=None, cursor=cursor, limit=limit)
    )


@router.get("/operator/alerts", response_model=AlertPage)
def alerts(ctx: Ctx, who: Operator, cursor: str | None = None, limit: Limit = 50) -> AlertPage:
    """大额交易提示 / large-value alerts (brief §7), newest day first."""
    return AlertPage.model_validate(funds.list_alerts(ctx, cursor=cursor, limit=limit))


@router.get(
    "/operator/reconciliations/{bill_date}", response_model=ReconciliationOut, responses=PROBLEMS
)
def reconciliation(ctx: Ctx, who: Operator, bill_date: date) -> ReconciliationOut:
    """对账报告 / the newest reconciliation report of a date (``jifen reconcile``)."""
    stored = latest_report(ctx, bill_date)
    return ReconciliationOut.model_validate(
        {**stored.summary, "run": stored.run, "run_at": stored.run_at}
    )


@router.get(
    "/operator/reconciliations/{bill_date}/report.csv",
    response_class=PlainTextResponse,
    responses=PROBLEMS,
)
def reconciliation_csv(ctx: Ctx, who: Operator, bill_date: date) -> PlainTextResponse:
    """对账报告 CSV / the same report as the CSV file ``jifen reconcile`` writes."""
    stored = latest_report(ctx, bill_date)
    return PlainTextResponse(
        stored.report_csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{bill_date}.csv"'},
    )
