"""Signing in with an API key (operator, merchant, auditor), signing out, and the language
switch. A member signs in with an SMS code instead (``jifen.web.member``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jifen import i18n
from jifen.alliance.merchants import MerchantStatus, get_merchant, key_owner
from jifen.api.auth import Caller
from jifen.web import csrf, sessions
from jifen.web.access import Viewer
from jifen.web.errors import SignInRefused
from jifen.web.render import LANG_COOKIE, YEAR, describe, language, page, set_cookie

router = APIRouter(include_in_schema=False)

HOME = {"operator": "/operator", "merchant": "/merchant", "auditor": "/auditor", "member": "/me"}
"""Where each role lands after signing in."""


def safe_next(target: str | None, fallback: str) -> str:
    """Only a path on this site: never ``//elsewhere`` or ``https://elsewhere`` (no open
    redirect out of a sign-in form)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def signed_in_response(request: Request, who: Caller, target: str | None) -> Response:
    """Start a session for ``who`` and send the browser on (303: the next request is a GET)."""
    web = request.app.state.web
    token = sessions.start(request.app.state.ctx, who, web.now())
    response = RedirectResponse(safe_next(target, HOME[who.role]), status_code=303)
    lifetime = sessions.LIFETIMES[who.role].absolute
    set_cookie(request, response, sessions.COOKIE, token, max_age=int(lifetime.total_seconds()))
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, who: Viewer, next: str | None = None) -> HTMLResponse:
    return page(request, "signin.html", who=who, next=safe_next(next, ""), error=None)


@router.post("/signin", dependencies=[Depends(csrf.check)])
async def signin(
    request: Request,
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Exchange an API key for a session. Failures count against the address like the API's
    (``auth.rate_limited``), so the form is no way around the API's limit."""
    limiter = request.app.state.auth_limiter
    address = request.client.host if request.client else "unknown"
    wait_s = limiter.retry_after_s(address)
    owner = None
    if wait_s is None and key.startswith("jf"):
        owner = await run_in_threadpool(key_owner, request.app.state.ctx, key.strip())
    if owner is None or owner.role not in HOME:
        if wait_s is None:
            limiter.failed(address)
        refused = SignInRefused("密钥无效 / this key is not valid", detail_key="key")
        return page(
            request,
            "signin.html",
            status=429 if wait_s else 401,
            next=safe_next(next, ""),
            error=describe(request, refused) if not wait_s else describe_wait(request, wait_s),
        )
    who = Caller(owner.role, merchant_id=owner.merchant_id, key_id=owner.key_id)
    if who.role == "merchant" and not await run_in_threadpool(_active, request, who):
        refused = SignInRefused("商户已暂停 / this merchant is suspended", detail_key="inactive")
        return page(request, "signin.html", status=403, next="", error=describe(request, refused))
    return await run_in_threadpool(signed_in_response, request, who, next)


def _active(request: Request, who: Caller) -> bool:
    """A suspended merchant's key still reads through the API, but its console is closed
    (``sessions.resume`` ends a session it holds): it is told so, not sent round in a loop."""
    assert who.merchant_id is not None
    merchant = get_merchant(request.app.state.ctx, who.merchant_id)
    return merchant.status == MerchantStatus.ACTIVE


@router.post("/signout", dependencies=[Depends(csrf.check)])
def signout(request: Request) -> Response:
    token = request.cookies.get(sessions.COOKIE)
    if token:
        sessions.end(request.app.state.ctx, token, request.app.state.web.now())
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/lang/{tag}")
def switch_language(request: Request, tag: str, next: str | None = None) -> Response:
    """The language switch: a cookie for a year (a preference, not a credential)."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if tag in i18n.LANGUAGES:
        set_cookie(request, response, LANG_COOKIE, tag, max_age=YEAR)
    return response


def describe_wait(request: Request, wait_s: int) -> str:
    return i18n.message("auth.rate_limited", language(request), retry_after_s=wait_s)
