"""My personal information: the privacy notice (public, shown at first sign-in with an
acknowledge button), my data as JSON or CSV, my consents, and erasure (jifen.alliance.privacy)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jifen.alliance import members, privacy
from jifen.alliance.errors import ErasureNotConfirmed
from jifen.api.auth import Caller
from jifen.errors import JifenError
from jifen.promoters import privacy as referral_data
from jifen.web import csrf, sessions
from jifen.web.access import MemberPage, Viewer
from jifen.web.render import describe, page
from jifen.web.signin import safe_next

router = APIRouter(include_in_schema=False)

RETENTION = (
    ("phone", "phone"),
    ("consents", "consents"),
    ("signin_codes", "signin_codes"),
    ("sessions", "sessions"),
    ("journal", "journal"),
    ("referrals", "referrals"),
    ("payee", "payee"),
    ("exports", "exports"),
)
"""The data categories of the notice, each with its retention (PII-2): the words are catalogue
entries ``web.member.notice.<name>`` and ``web.member.notice.<name>.keep``."""


def _member(who: Caller) -> str:
    assert who.member_id is not None
    return who.member_id


@router.get("/privacy", response_class=HTMLResponse)
def notice(
    request: Request, who: Viewer, erased: str | None = None, next: str | None = None
) -> HTMLResponse:
    """The privacy notice, for anyone; a member who has not acknowledged it sees the button,
    which goes on to ``next`` (where the member was going when they signed in)."""
    ask = bool(
        who and who.role == "member" and privacy.needs_notice(request.app.state.ctx, _member(who))
    )
    return page(
        request,
        "member/notice.html",
        who=who,
        categories=RETENTION,
        ask=ask,
        policy_version=members.POLICY_VERSION,
        erased=erased == "1",
        next=safe_next(next, ""),
    )


@router.post("/me/privacy/ack", dependencies=[Depends(csrf.check)])
def acknowledge(
    request: Request, who: MemberPage, next: Annotated[str, Form(max_length=500)] = ""
) -> Response:
    privacy.acknowledge(request.app.state.ctx, _member(who), request.app.state.web.now())
    return RedirectResponse(safe_next(next, "/me"), status_code=303)


def _privacy_page(request: Request, who: Caller, status: int = 200, **extra: object) -> Response:
    ctx = request.app.state.ctx
    member = members.get_member(ctx, _member(who))
    context = {"error": None, "points": None, **extra}
    return page(
        request,
        "member/privacy.html",
        who=who,
        member=member,
        status=status,
        nav="privacy",
        optional=privacy.OPTIONAL,
        required=privacy.REQUIRED,
        **context,
    )


@router.get("/me/privacy", response_class=HTMLResponse)
def my_data(request: Request, who: MemberPage) -> Response:
    return _privacy_page(request, who)


def _export(request: Request, who: Caller) -> dict[str, Any]:
    """The member's copy: what the alliance holds, and their referral data, which the alliance
    cannot gather (it stands below ``jifen.promoters`` in the layers), composed here."""
    ctx = request.app.state.ctx
    data = privacy.export(ctx, _member(who), ctx.clock.now())
    return {**data, "referrals": referral_data.export(ctx, _member(who))}


@router.get("/me/privacy/export.json")
def export_json(request: Request, who: MemberPage) -> Response:
    data = _export(request, who)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="jifen-my-data.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/me/privacy/export.csv")
def export_csv(request: Request, who: MemberPage) -> Response:
    data = _export(request, who)
    rows = referral_data.csv_rows(data["referrals"])
    return Response(
        "\ufeff" + privacy.export_csv(data, rows),  # the BOM: Excel in China opens it as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="jifen-my-data.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/me/privacy/consent", dependencies=[Depends(csrf.check)])
def consent(
    request: Request,
    who: MemberPage,
    purpose: Annotated[str, Form(max_length=32)],
    granted: Annotated[str, Form(max_length=1)],
) -> Response:
    """Grant or withdraw an optional consent. A required one (terms, privacy) cannot be
    withdrawn while staying: that is leaving, so the member is taken to the deletion form."""
    if purpose in privacy.REQUIRED:
        return RedirectResponse("/me/privacy/delete", status_code=303)
    try:
        privacy.set_consent(
            request.app.state.ctx,
            _member(who),
            purpose,
            granted == "1",
            request.app.state.ctx.clock.now(),
        )
    except JifenError as exc:
        return _privacy_page(request, who, status=exc.status, error=describe(request, exc))
    return RedirectResponse("/me/privacy", status_code=303)


@router.get("/me/privacy/delete", response_class=HTMLResponse)
def delete_form(request: Request, who: MemberPage) -> Response:
    ctx = request.app.state.ctx
    account = members.account(ctx, _member(who), ctx.clock.now())
    return page(request, "member/delete.html", who=who, account=account, error=None, nav="privacy")


@router.post("/me/privacy/delete", dependencies=[Depends(csrf.check)])
async def delete(
    request: Request,
    who: MemberPage,
    confirm: Annotated[str, Form(max_length=8)] = "",
    forfeit: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Carry out the erasure now (jifen.alliance.privacy.erase, which also ends every session
    of the member), and drop this browser's cookie."""
    ctx = request.app.state.ctx
    account = members.account(ctx, _member(who), ctx.clock.now())
    try:
        if confirm != "yes":
            raise ErasureNotConfirmed("请勾选确认 / tick the box to confirm")
        await run_in_threadpool(
            privacy.erase, ctx, _member(who), ctx.clock.now(), forfeit=forfeit == "yes"
        )
    except JifenError as exc:
        return page(
            request,
            "member/delete.html",
            who=who,
            account=account,
            status=exc.status,
            error=describe(request, exc),
            nav="privacy",
        )
    response = RedirectResponse("/privacy?erased=1", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
