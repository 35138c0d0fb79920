"""The merchant's home: the cash-order form a till uses most, today's figures so far, and the
latest orders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.alliance import orders
from jifen.alliance.keys import list_keys
from jifen.alliance.merchants import get_merchant
from jifen.api.auth import Caller
from jifen.app.context import Context
from jifen.web.access import MerchantPage
from jifen.web.merchant import forms
from jifen.web.merchant.common import context, mine
from jifen.web.merchant.statements import today_statement
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
RECENT = 5


def order_form(**typed: str) -> dict[str, Any]:
    """An order form with its own key (one form, one write); what was typed, if re-shown."""
    values = {"member": "", "order_ref": "", "amount": "", "paid_at": ""} | typed
    return {"form_key": forms.new_form_key(), "typed": values}


def key_store(ctx: Context, who: Caller) -> str | None:
    """The store the signed-in key was issued for, if any: the till's own store."""
    for k in list_keys(ctx, mine(who), ctx.clock.now()):
        if k.key_id == who.key_id:
            return k.store_id
    return None


def home_page(
    request: Request,
    who: Caller,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
    no_points: dict[str, Any] | None = None,
    used_ref: str | None = None,
) -> HTMLResponse:
    ctx = context(request)
    merchant = get_merchant(ctx, mine(who))
    store_id = key_store(ctx, who)
    store = next((s for s in merchant.stores if s.store_id == store_id), None)
    recent = orders.list_orders(ctx, mine(who), cursor=None, limit=RECENT).items
    return page(
        request, "merchant/home.html", who=who, merchant=merchant, store=store,
        form=form or order_form(), error=error, status=status, no_points=no_points,
        used_ref=used_ref,
        today=today_statement(ctx, mine(who)), recent=recent,
        now_text=forms.paid_at_text(ctx.clock.now()),
    )  # fmt: skip


@router.get("/merchant", response_class=HTMLResponse)
def home(request: Request, who: MerchantPage) -> HTMLResponse:
    return home_page(request, who)
