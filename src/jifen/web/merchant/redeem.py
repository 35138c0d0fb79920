"""Accepting a redemption at checkout by the member's one-time code, typed or scanned: the call
``POST /v1/redemptions`` makes. A handheld scanner types the code into the focused field and
presses Enter; a phone's camera may scan it (static/merchant-scan.js, where the browser has a
``BarcodeDetector``); without script the field still takes what is typed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from jifen import i18n
from jifen.alliance import redemptions, reversals
from jifen.alliance.redemptions import normalize_code
from jifen.api.auth import Caller
from jifen.api.schemas import RedemptionOut
from jifen.errors import JifenError
from jifen.web import csrf
from jifen.web.access import MerchantPage
from jifen.web.merchant import forms
from jifen.web.merchant.common import PAGE_SIZE, context, mine, write_once
from jifen.web.render import describe, language, page

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]


class RedeemForm(BaseModel):
    code: str
    points: str
    order_ref: str
    amount: str


def _page(
    request: Request,
    who: Caller,
    *,
    typed: RedeemForm | None = None,
    error: str | None = None,
    status: int = 200,
    done: str | None = None,
) -> HTMLResponse:
    ctx = context(request)
    accepted = reversals.get_redemption(ctx, mine(who), done) if done else None
    recent = redemptions.list_redemptions(ctx, mine(who), cursor=None, limit=PAGE_SIZE).items
    blank = RedeemForm(code="", points="", order_ref="", amount="")
    return page(
        request, "merchant/redeem.html", who=who, typed=typed or blank, error=error,
        status=status, accepted=accepted, recent=recent, form_key=forms.new_form_key(),
    )  # fmt: skip


@router.get("/merchant/redeem", response_class=HTMLResponse)
def redeem_form(request: Request, who: MerchantPage, done: str | None = None) -> HTMLResponse:
    """The code form; after an acceptance, its result (``done``: this merchant's redemption, or
    not found, as any other)."""
    return _page(request, who, done=done)


def _points(text: str) -> int | None:
    digits = text.strip()
    return int(digits) if digits.isascii() and digits.isdigit() and int(digits) > 0 else None


@router.post("/merchant/redemptions", dependencies=[Depends(csrf.check)], response_model=None)
def accept(
    request: Request,
    who: MerchantPage,
    form_key: Field,
    code: Field,
    points: Field,
    order_ref: Field,
    amount: Field,
) -> Response:
    """Spend the code's member's points on this order; the same form resubmitted is the first
    acceptance (and the code itself names one redemption only)."""
    ctx = context(request)
    typed = RedeemForm(
        code=code.strip(), points=points.strip(), order_ref=order_ref.strip(), amount=amount
    )
    n, fen = _points(points), forms.yuan_to_fen(amount)
    problem = (
        "points_invalid" if n is None
        else "amount_invalid" if fen is None
        else "form_stale" if not forms.is_form_key(form_key)
        else None
    )  # fmt: skip
    if problem is not None:
        message = i18n.text(f"web.merchant.{problem}", language(request))
        return _page(request, who, typed=typed, error=message, status=422)
    assert n is not None and fen is not None
    try:
        done = write_once(
            request, who, form_key, typed,
            lambda tx: RedemptionOut.model_validate(redemptions.redeem(
                ctx, mine(who), code=normalize_code(typed.code), points=n,
                order_ref=typed.order_ref, order_amount_fen=fen, conn=tx,
            )),
        )  # fmt: skip
    except JifenError as exc:
        return _page(request, who, typed=typed, error=describe(request, exc), status=exc.status)
    return RedirectResponse(f"/merchant/redeem?done={done['redemption_id']}", 303)
