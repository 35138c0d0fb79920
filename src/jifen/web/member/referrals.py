"""A promoter's referrals and rewards, and their payouts (issue 14): my code and share link, my
referrer, my totals, every reward with the order it came from, and each month's payouts with the
income tax withheld. Read-only, from ``jifen.promoters.views``; like every member page, no URL
names a member (the member id comes from the session only)."""

from __future__ import annotations

from datetime import datetime

import fastapi.routing
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from jifen import i18n
from jifen.api.auth import Caller
from jifen.app.clock import business_date
from jifen.promoters import graph, views
from jifen.web.access import MemberPage
from jifen.web.member.account import qr_data_uri
from jifen.web.render import language, page

router = APIRouter(include_in_schema=False)
REWARDS_PAGE = 50
PAYEE_FORM = "/me/payee"
"""Where a member registers as a payee, once that page exists (another part of issue 14); until
then the payouts page says the operator arranges it."""
LINK_OUTCOMES = ("bound", "replayed", "already_bound", "self", "cycle")
"""What following a share link came to (``/r/{code}``'s form sends the member here with one)."""


def _member(who: Caller) -> str:
    assert who.member_id is not None
    return who.member_id


def has_page(request: Request, path: str) -> bool:
    """Whether the site routes ``path``. FastAPI 0.165 keeps an included router as one lazy
    entry, which ``iter_route_contexts`` opens; older ones list every route themselves."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = [c.route for c in contexts(request.app.routes)] if contexts else request.app.routes
    return any(getattr(route, "path", None) == path for route in routes)


def share_link(request: Request, code: str, *, absolute: bool = False) -> str:
    """The promoter's share link: absolute on the site's public address when it has one
    (``WebSettings.public_url``: a link shared in a chat must say where it leads), else the
    path on this site. ``absolute``: without a public address, on the address this page was
    read at (a QR code holding a bare path would open nothing once scanned)."""
    base = request.app.state.web.public_url
    if not base and absolute:
        base = str(request.base_url)
    return (base.rstrip("/") if base else "") + graph.share_path(code)


def link_notice(
    request: Request, outcome: str | None, summary: views.PromoterSummary
) -> str | None:
    """What following a share link came to, in the reader's language: a refusal is the
    error's own message (``referral.already_bound``, ``referral.cycle``), the referrer masked
    as everywhere on this page."""
    if outcome not in LINK_OUTCOMES:
        return None
    lang, ref = language(request), summary.referrer
    if outcome == "already_bound":
        held = views.masked(ref.promoter_id) if ref else "—"
        return i18n.message("referral.already_bound", lang, promoter_id=held)
    if outcome == "self":
        return i18n.message("referral.cycle", lang, detail_key="self")
    return i18n.text(f"web.referrals.link.{outcome}", lang)


@router.get("/me/referrals", response_class=HTMLResponse)
def referrals(
    request: Request, who: MemberPage, cursor: str | None = None, link: str | None = None
) -> HTMLResponse:
    ctx = request.app.state.ctx
    me = _member(who)
    code = views.promoter_code(ctx, me)
    found = views.promoter_rewards(ctx, me, cursor, REWARDS_PAGE)
    summary = views.promoter_summary(ctx, me, ctx.clock.now())
    return page(
        request,
        "member/referrals.html",
        who=who,
        nav="referrals",
        code=code,
        share_link=share_link(request, code),
        share_qr=qr_data_uri(share_link(request, code, absolute=True)),
        notice=link_notice(request, link, summary),
        refused=link in ("already_bound", "self", "cycle"),
        summary=summary,
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
