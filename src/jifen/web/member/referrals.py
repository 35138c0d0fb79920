"""A promoter's referrals and rewards, and their payouts (issue 14): my code and share link, my
referrer, my totals, every reward with the order it came from, and each month's payouts with the
income tax withheld. Read-only, from ``jifen.promoters.views``; like every member page, no URL
names a member (the member id comes from the session only)."""

from __future__ import annotations

from datetime import datetime

import fastapi.routing
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from jifen.api.auth import Caller
from jifen.app.clock import business_date
from jifen.promoters import views
from jifen.web.access import MemberPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
REWARDS_PAGE = 50
PAYEE_FORM = "/me/payee"
"""Where a member registers as a payee, once that page exists (another part of issue 14); until
then the payouts page says the operator arranges it."""
SHARE_QUERY = "/?ref="
"""A share link is the site's front page with the promoter's code (the graph binds it)."""


def _member(who: Caller) -> str:
    assert who.member_id is not None
    return who.member_id


def has_page(request: Request, path: str) -> bool:
    """Whether the site routes ``path``. FastAPI 0.165 keeps an included router as one lazy
    entry, which ``iter_route_contexts`` opens; older ones list every route themselves."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = [c.route for c in contexts(request.app.routes)] if contexts else request.app.routes
    return any(getattr(route, "path", None) == path for route in routes)


@router.get("/me/referrals", response_class=HTMLResponse)
def referrals(request: Request, who: MemberPage, cursor: str | None = None) -> HTMLResponse:
    ctx = request.app.state.ctx
    me = _member(who)
    code = views.promoter_code(ctx, me)
    found = views.promoter_rewards(ctx, me, cursor, REWARDS_PAGE)
    return page(
        request,
        "member/referrals.html",
        who=who,
        nav="referrals",
        code=code,
        share_link=None if code is None else str(request.base_url).rstrip("/") + SHARE_QUERY + code,
        summary=views.promoter_summary(ctx, me, ctx.clock.now()),
        masked=views.masked,
        rewards=found.items,
        next_cursor=found.next_cursor,
    )


@router.get("/me/payouts", response_class=HTMLResponse)
def payouts(
    request: Request, who: MemberPage, year: int | None = Query(None, ge=2000, le=9999)
) -> HTMLResponse:
    """One tax year (this one by default): each month's gross, tax withheld, net and method,
    every payout line, and whether the member may be paid at all (a verified, consenting
    payee)."""
    ctx = request.app.state.ctx
    me = _member(who)
    now: datetime = ctx.clock.now()
    this_year = business_date(now).year
    shown = year or this_year
    years = sorted({this_year, shown, *views.payout_years(ctx, me)}, reverse=True)
    return page(
        request,
        "member/payouts.html",
        who=who,
        nav="payouts",
        paid=views.payee_payouts(ctx, me, shown),
        years=years,
        payee_form=PAYEE_FORM if has_page(request, PAYEE_FORM) else None,
    )
