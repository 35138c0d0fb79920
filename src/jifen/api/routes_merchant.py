"""Merchant (商家): its own orders, refunds, cancellations, redemptions and statements only.

Another merchant's order is "not found", exactly as an order that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from jifen import funds
from jifen.alliance import merchants, orders, redemptions, reversals
from jifen.api.auth import Caller, Ctx, MerchantCaller, OperatorOrMerchant
from jifen.api.errors import Forbidden
from jifen.api.idempotency import IdemKey, Limit, once
from jifen.api.schemas import (
    ID,
    MerchantOut,
    OrderIn,
    OrderOut,
    OrderPage,
    Problem,
    RedemptionIn,
    RedemptionOut,
    RedemptionPage,
    RefundIn,
    RefundOut,
    StatementPage,
)
from jifen.api.schemas._tools import ReasonIn, ReversalOut
from jifen.settlement import statements

router = APIRouter(prefix="/v1", tags=["merchant 商家"])
OrderRef = Annotated[str, Path(pattern=ID, description="订单号 / the merchant's order ref")]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "not found (or not yours)"},
    409: {"model": Problem, "description": "conflict"},
}


def _merchant(who: MerchantCaller) -> str:
    assert who.merchant_id is not None
    return who.merchant_id


@router.get("/merchant", response_model=MerchantOut)
def me(ctx: Ctx, who: MerchantCaller) -> MerchantOut:
    """本商家资料 / the calling merchant's own record."""
    return MerchantOut.model_validate(merchants.get_merchant(ctx, _merchant(who)))


@router.post("/orders", response_model=OrderOut, status_code=201, responses=PROBLEMS)
def record_order(
    request: Request, ctx: Ctx, who: MerchantCaller, body: OrderIn, key: IdemKey = None
) -> JSONResponse:
    """记录已支付订单 / record a paid order: pending points under the rules in force at paid_at."""

    def run(tx: Connection) -> OrderOut:
        return OrderOut.model_validate(
            orders.record_order(
                ctx,
                _merchant(who),
                order_ref=body.order_ref,
                member_id=body.member_id,
                amount_fen=body.amount_fen,
                paid_at=body.paid_at,
                conn=tx,
            )
        )

    return once(request, who, key, body, run, 201)


@router.get("/orders", response_model=OrderPage)
def list_orders(
    ctx: Ctx, who: MerchantCaller, cursor: str | None = None, limit: Limit = 50
) -> OrderPage:
    return OrderPage.model_validate(
        orders.list_orders(ctx, _merchant(who), cursor=cursor, limit=limit)
    )


@router.get("/orders/{order_ref}", response_model=OrderOut, responses=PROBLEMS)
def get_order(ctx: Ctx, who: MerchantCaller, order_ref: OrderRef) -> OrderOut:
    return OrderOut.model_validate(orders.get_order(ctx, _merchant(who), order_ref))


@router.post("/orders/{order_ref}/refunds", response_model=RefundOut, responses=PROBLEMS)
def refund(
    request: Request,
    ctx: Ctx,
    who: MerchantCaller,
    order_ref: OrderRef,
    body: RefundIn,
    key: IdemKey = None,
) -> JSONResponse:
    """退款扣回积分 / refund a cash order in full or part: points clawed back pro rata. An order
    paid through the provider is refunded at ``/v1/payments/{out_trade_no}/refunds``."""
    paid = funds.payment_of_order(ctx, _merchant(who), order_ref)
    if paid is not None and paid.state == "paid":
        raise funds.PaidThroughProvider(
            "该订单经支付机构支付，请通过支付退款 / the order was paid through the provider: "
            f"refund it at /v1/payments/{paid.out_trade_no}/refunds",
            out_trade_no=paid.out_trade_no,
        )
    return once(
        request, who, key, body,
        lambda tx: RefundOut.model_validate(
            orders.refund_order(
                ctx,
                _merchant(who),
                order_ref,
                refund_ref=body.refund_ref,
                refund_fen=body.refund_fen,
                conn=tx,
            )
        ),
    )  # fmt: skip


@router.post("/orders/{order_ref}/cancel", response_model=OrderOut, responses=PROBLEMS)
def cancel(
    request: Request, ctx: Ctx, who: MerchantCaller, order_ref: OrderRef, key: IdemKey = None
) -> JSONResponse:
    """取消订单（退货期内）/ cancel inside the return window: pending points are voided."""
    return once(
        request,
        who,
        key,
        None,
        lambda tx: OrderOut.model_validate(
            orders.cancel_order(ctx, _merchant(who), order_ref, conn=tx)
        ),
    )


@router.post("/redemptions", response_model=RedemptionOut, status_code=201, responses=PROBLEMS)
def redeem(
    request: Request, ctx: Ctx, who: MerchantCaller, body: RedemptionIn, key: IdemKey = None
) -> JSONResponse:
    """积分抵扣 / redeem with the member's one-time code, within the rules' limits."""
    return once(
        request, who, key, body,
        lambda tx: RedemptionOut.model_validate(
            redemptions.redeem(
                ctx, _merchant(who), code=body.code, points=body.points,
                order_ref=body.order_ref, order_amount_fen=body.order_amount_fen, conn=tx,
            )
        ),
        201,
    )  # fmt: skip


@router.get("/redemptions", response_model=RedemptionPage)
def list_redemptions(
    ctx: Ctx, who: MerchantCaller, cursor: str | None = None, limit: Limit = 50
) -> RedemptionPage:
    return RedemptionPage.model_validate(
        redemptions.list_redemptions(ctx, _merchant(who), cursor=cursor, limit=limit)
    )


RedemptionId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="积分抵扣编号")]


def _mine(who: Caller) -> str | None:
    """A merchant undoes its own redemptions (another's is not found); the operator any."""
    return who.merchant_id if who.role == "merchant" else None


@router.get("/redemptions/{redemption_id}", response_model=RedemptionOut, responses=PROBLEMS)
def get_redemption(ctx: Ctx, who: OperatorOrMerchant, redemption_id: RedemptionId) -> RedemptionOut:
    return RedemptionOut.model_validate(reversals.get_redemption(ctx, _mine(who), redemption_id))


def _undo(
    request: Request, ctx: Ctx, who: Caller, redemption_id: str, kind: str, body: ReasonIn,
    key: str | None,
) -> JSONResponse:  # fmt: skip
    def run(tx: Connection) -> ReversalOut:
        r = reversals.undo_redemption(
            ctx, redemption_id, kind=kind, reason=body.reason, merchant_id=_mine(who), conn=tx
        )
        return ReversalOut(
            reversal_id=r.reversal_id, kind=r.kind, merchant_id=r.redemption.merchant_id,
            redemption=RedemptionOut.model_validate(r.redemption), reason=r.reason, at=r.at,
        )  # fmt: skip

    return once(request, who, key, body, run)


@router.post("/redemptions/{redemption_id}/void", response_model=ReversalOut, responses=PROBLEMS)
def void_redemption(
    request: Request,
    ctx: Ctx,
    who: OperatorOrMerchant,
    redemption_id: RedemptionId,
    body: ReasonIn,
    key: IdemKey = None,
) -> JSONResponse:
    """撤销当天的积分抵扣 / void a redemption of today: the points go back, nothing is settled."""
    return _undo(request, ctx, who, redemption_id, "void", body, key)


@router.post(
    "/redemptions/{redemption_id}/reversal", response_model=ReversalOut, responses=PROBLEMS
)
def reverse_redemption(
    request: Request,
    ctx: Ctx,
    who: OperatorOrMerchant,
    redemption_id: RedemptionId,
    body: ReasonIn,
    key: IdemKey = None,
) -> JSONResponse:
    """冲正积分抵扣 / reverse a redemption: the points go back, the value is netted next."""
    return _undo(request, ctx, who, redemption_id, "reversal", body, key)


@router.get("/statements", response_model=StatementPage)
def list_statements(
    ctx: Ctx,
    who: OperatorOrMerchant,
    merchant_id: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> StatementPage:
    """结算单 / daily statements: a merchant sees its own; the operator all (or one merchant)."""
    if who.role == "merchant":
        if merchant_id not in (None, who.merchant_id):
            raise Forbidden("无权访问 / not allowed")
        merchant_id = who.merchant_id
    return StatementPage.model_validate(statements(ctx, merchant_id, cursor=cursor, limit=limit))
