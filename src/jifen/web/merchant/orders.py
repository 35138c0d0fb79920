"""Cash orders at the till: record one (the points it earns, pending until the return window
ends), list them, open one, refund it in full or part — the calls ``POST /v1/orders`` and
``POST /v1/orders/{ref}/refunds`` make, with the same idempotency."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from jifen import funds, i18n
from jifen.alliance import orders
from jifen.alliance.members import member_id_for
from jifen.api.auth import Caller
from jifen.api.schemas import OrderOut, RefundOut
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.funds.records import split_orders
from jifen.ledger import IdempotencyConflict
from jifen.web import csrf
from jifen.web.access import MerchantPage
from jifen.web.merchant import forms
from jifen.web.merchant.common import PAGE_SIZE, context, mine, write_once
from jifen.web.merchant.home import home_page, order_form
from jifen.web.render import describe, language, page

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]


class OrderForm(BaseModel):
    """The order form as typed (what a resubmission must repeat to be the same request)."""

    member: str
    order_ref: str
    amount: str
    paid_at: str


class RefundForm(BaseModel):
    refund_ref: str
    amount: str


def _refusal(request: Request, key: str) -> str:
    return i18n.text(f"web.merchant.{key}", language(request))


def _member(ctx: Context, typed: str) -> str | None:
    """A member id as typed, or the id a phone number enrols under (the same keyed hash
    enrolment uses: nothing is unsealed, and an unknown number is "no such member", as an
    unknown id is)."""
    text = typed.strip()
    if forms.is_member_id(text):
        return text
    try:
        return member_id_for(ctx, text)
    except JifenError:
        return None


@router.post("/merchant/orders", dependencies=[Depends(csrf.check)], response_model=None)
def record(
    request: Request,
    who: MerchantPage,
    form_key: Field,
    member: Field,
    order_ref: Field,
    amount: Field,
    paid_at: Field = "",
) -> Response:
    """Record a paid cash order; a resubmitted form (same key, same fields) is the first one."""
    ctx = context(request)
    typed = OrderForm(member=member, order_ref=order_ref.strip(), amount=amount, paid_at=paid_at)
    member_id = _member(ctx, member)
    fen = forms.yuan_to_fen(amount)
    at = forms.paid_at_from(paid_at, ctx.clock.now())
    problem = (
        "member_invalid" if member_id is None
        else "amount_invalid" if fen is None
        else "paid_at_invalid" if at is None
        else "form_stale" if not forms.is_form_key(form_key)
        else None
    )  # fmt: skip
    if problem is None:
        assert member_id is not None and fen is not None and at is not None
        try:
            done = write_once(
                request, who, form_key, typed,
                lambda tx: OrderOut.model_validate(orders.record_order(
                    ctx, mine(who), order_ref=typed.order_ref, member_id=member_id,
                    amount_fen=fen, paid_at=at, conn=tx,
                )),
            )  # fmt: skip
        except IdempotencyConflict:
            return _conflict(request, who, typed)
        except JifenError as exc:
            return _home_again(request, who, typed, describe(request, exc), exc.status)
        if done["status"] == "no_points":  # nothing was written: say so, keep the form
            return _home_again(request, who, typed, None, 200, no_points=done)
        return RedirectResponse(f"/merchant/orders/{done['order_ref']}?recorded=1", 303)
    return _home_again(request, who, typed, _refusal(request, problem), 422)


def _conflict(request: Request, who: Caller, typed: OrderForm) -> HTMLResponse:
    """The ref was recorded before with other details (the ledger's dedupe), or this form's key
    was already used for another order (a form resubmitted after editing, from the history)."""
    try:
        orders.get_order(context(request), mine(who), typed.order_ref)
    except JifenError:
        return _home_again(request, who, typed, _refusal(request, "form_stale"), 409)
    lang = language(request)
    used = i18n.text("web.merchant.order_ref_used", lang, order_ref=typed.order_ref)
    return _home_again(request, who, typed, used, 409, used_ref=typed.order_ref)


def _home_again(
    request: Request,
    who: Caller,
    typed: OrderForm,
    error: str | None,
    status: int,
    no_points: dict[str, Any] | None = None,
    used_ref: str | None = None,
) -> HTMLResponse:
    form = order_form(**typed.model_dump())
    return home_page(
        request, who, form=form, error=error, status=status, no_points=no_points, used_ref=used_ref
    )


@router.get("/merchant/orders", response_class=HTMLResponse)
def order_list(request: Request, who: MerchantPage, cursor: str | None = None) -> HTMLResponse:
    """Recent orders, newest first, a page at a time, each with its points' status."""
    ctx = context(request)
    found = orders.list_orders(ctx, mine(who), cursor=cursor, limit=PAGE_SIZE)
    splits = split_states(ctx, mine(who), [o.order_ref for o in found.items])
    return page(
        request, "merchant/orders.html", who=who, orders=found.items,
        next_cursor=found.next_cursor, splits=splits,
    )  # fmt: skip


def split_states(ctx: Context, merchant_id: str, refs: list[str]) -> dict[str, list[str]]:
    """For orders paid through the provider: the state of each split instruction (waiting,
    due, processing, finished …), as ``GET /v1/payments/{no}`` shows them. Cash orders have
    none."""
    paid = {ref: funds.payment_of_order(ctx, merchant_id, ref) for ref in refs}
    with ctx.engine.connect() as conn:
        return {
            ref: [s.state for s in split_orders(conn, out_trade_no=p.out_trade_no)]
            for ref, p in paid.items()
            if p is not None
        }


@router.get("/merchant/orders/{order_ref}", response_class=HTMLResponse)
def order_page(
    request: Request, who: MerchantPage, order_ref: str, recorded: int = 0
) -> HTMLResponse:
    """One order: its points and their release, its split status, and the refund form. Another
    merchant's order is "no such order", exactly as one that does not exist."""
    return _order_page(request, who, order_ref, recorded=bool(recorded))


def _order_page(
    request: Request,
    who: Caller,
    order_ref: str,
    *,
    recorded: bool = False,
    error: str | None = None,
    status: int = 200,
    typed: RefundForm | None = None,
    refunded: dict[str, Any] | None = None,
) -> HTMLResponse:
    ctx = context(request)
    order = orders.get_order(ctx, mine(who), order_ref)
    paid = funds.payment_of_order(ctx, mine(who), order_ref)
    splits = []
    if paid is not None:
        with ctx.engine.connect() as conn:
            splits = split_orders(conn, out_trade_no=paid.out_trade_no)
    left = order.amount_fen - order.refunded_fen
    refundable = left > 0 and (paid is None or paid.state != "paid")
    refund = typed or RefundForm(
        refund_ref=f"rf-{forms.new_form_key()[4:14]}", amount=forms.fen_to_yuan_text(left)
    )
    return page(
        request, "merchant/order.html", who=who, order=order, payment=paid, splits=splits,
        recorded=recorded, error=error, status=status, refund=refund, refunded=refunded,
        form_key=forms.new_form_key(), refundable=refundable,
    )  # fmt: skip


@router.post(
    "/merchant/orders/{order_ref}/refunds", dependencies=[Depends(csrf.check)], response_model=None
)
def refund(
    request: Request,
    who: MerchantPage,
    order_ref: str,
    form_key: Field,
    refund_ref: Field,
    amount: Field,
) -> Response:
    """Refund a cash order in full or part: its points are clawed back pro rata. An order paid
    through the provider is refunded there (``funds.PaidThroughProvider``, as the API says)."""
    ctx = context(request)
    typed = RefundForm(refund_ref=refund_ref.strip(), amount=amount)
    orders.get_order(ctx, mine(who), order_ref)  # another merchant's order: not found, first
    fen = forms.yuan_to_fen(amount)
    if fen is None or not forms.is_form_key(form_key):
        problem = "amount_invalid" if fen is None else "form_stale"
        return _order_page(
            request, who, order_ref, error=_refusal(request, problem), status=422, typed=typed
        )
    try:
        paid = funds.payment_of_order(ctx, mine(who), order_ref)
        if paid is not None and paid.state == "paid":
            raise funds.PaidThroughProvider(
                "该订单经支付机构支付，请通过支付退款 / the order was paid through the provider",
                out_trade_no=paid.out_trade_no,
            )
        done = write_once(
            request,
            who,
            form_key,
            typed,
            lambda tx: _refund(ctx, who, order_ref, typed.refund_ref, fen, tx),
        )
    except JifenError as exc:
        return _order_page(
            request, who, order_ref, error=describe(request, exc), status=exc.status, typed=typed
        )
    return _order_page(request, who, order_ref, refunded=done)


def _refund(
    ctx: Context, who: Caller, order_ref: str, refund_ref: str, fen: int, tx: Connection
) -> RefundOut:
    return RefundOut.model_validate(
        orders.refund_order(
            ctx, mine(who), order_ref, refund_ref=refund_ref, refund_fen=fen, conn=tx
        )
    )
