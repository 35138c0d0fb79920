"""What a member has: balance (available, pending with release dates, expiring within 30 days),
history (each line names its order, merchant and rule version), and a redemption code with its
QR code to show at checkout. The same service calls as ``/v1/me`` (jifen.api.routes_member)."""

from __future__ import annotations

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from jifen.alliance import members, redemptions
from jifen.api.auth import Caller
from jifen.web import csrf
from jifen.web.access import MemberPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
HISTORY_PAGE = 50


def _member(who: Caller) -> str:
    assert who.member_id is not None
    return who.member_id


@router.get("/me", response_class=HTMLResponse)
def home(request: Request, who: MemberPage) -> HTMLResponse:
    ctx = request.app.state.ctx
    account = members.account(ctx, _member(who), ctx.clock.now())
    return page(request, "member/home.html", who=who, account=account, nav="home")


@router.get("/me/history", response_class=HTMLResponse)
def history(request: Request, who: MemberPage, cursor: str | None = None) -> HTMLResponse:
    ctx = request.app.state.ctx
    found = members.history(ctx, _member(who), cursor=cursor, limit=HISTORY_PAGE)
    return page(
        request,
        "member/history.html",
        who=who,
        lines=found.items,
        next_cursor=found.next_cursor,
        nav="history",
    )


@router.get("/me/code", response_class=HTMLResponse)
def code_form(request: Request, who: MemberPage) -> HTMLResponse:
    return page(request, "member/code.html", who=who, code=None, nav="code")


def qr_data_uri(code: str) -> str:
    """The code as a QR image drawn on the server (SVG in a data: URI: no script, no request).
    Always a full QR code, never a Micro QR (which ``segno.make`` picks for short data and many
    till scanners do not read)."""
    return str(segno.make_qr(code, error="m").svg_data_uri(scale=6, border=2, omitsize=True))


@router.post("/me/code", dependencies=[Depends(csrf.check)], response_class=HTMLResponse)
async def new_code(request: Request, who: MemberPage) -> HTMLResponse:
    """A fresh one-time code, shown once (it is kept only as a keyed hash, so it cannot be shown
    again after a redirect: this answer is the page). Asking twice makes two codes, each
    valid five minutes, and spending either uses only that one: no double write to guard."""
    ctx = request.app.state.ctx
    code, expires = await run_in_threadpool(
        redemptions.new_code, ctx, _member(who), ctx.clock.now()
    )
    return page(
        request,
        "member/code.html",
        who=who,
        code=code,
        qr=qr_data_uri(code),
        expires=expires,
        nav="code",
    )
