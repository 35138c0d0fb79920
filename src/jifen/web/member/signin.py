"""Member sign-in with a one-time SMS code (jifen.alliance.signin_codes): number, then code,
then a session. The answer to "send a code" is the same whether or not the number is enrolled."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask

from jifen.alliance import privacy, signin_codes
from jifen.api.auth import Caller
from jifen.errors import JifenError
from jifen.web import csrf
from jifen.web.access import Viewer
from jifen.web.render import describe, page
from jifen.web.signin import safe_next, signed_in_response

router = APIRouter(include_in_schema=False)
TEMPLATE = "member/signin.html"


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/me/signin", response_class=HTMLResponse)
def signin_form(request: Request, who: Viewer, next: str | None = None) -> HTMLResponse:
    return page(
        request,
        TEMPLATE,
        who=who,
        step="phone",
        phone="",
        next=safe_next(next, ""),
        configured=request.app.state.web.sms is not None,
        error=None,
    )


@router.post("/me/signin/code", dependencies=[Depends(csrf.check)], response_class=HTMLResponse)
async def send_code(
    request: Request,
    phone: Annotated[str, Form(max_length=40)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """Ask for a code: 'if this number is enrolled, a code was sent', enrolled or not. The
    provider is called after the answer (a refusal is logged, not shown: showing it would tell
    who is enrolled)."""
    web = request.app.state.web
    context: dict[str, Any] = {
        "phone": phone,
        "next": safe_next(next, ""),
        "configured": web.sms is not None,
    }
    if web.sms is None:
        return page(request, TEMPLATE, status=503, step="phone", error=None, **context)
    try:
        sent, delivery = await run_in_threadpool(
            signin_codes.request_code, request.app.state.ctx, phone, _address(request), web.now()
        )
    except JifenError as exc:
        return page(
            request,
            TEMPLATE,
            status=exc.status,
            step="phone",
            error=describe(request, exc),
            **context,
        )
    response = page(request, TEMPLATE, step="code", error=None, ttl=sent.ttl_minutes, **context)
    # the text goes after the answer: an enrolled number's page comes back as fast as anyone's
    response.background = BackgroundTask(signin_codes.deliver, web.sms, delivery)
    return response


@router.post("/me/signin", dependencies=[Depends(csrf.check)])
async def signin(
    request: Request,
    phone: Annotated[str, Form(max_length=40)],
    code: Annotated[str, Form(max_length=20)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The code for a session. At the first sign-in (or after the policy changed) the member is
    taken to the privacy notice to acknowledge it before anything else (PII-4)."""
    ctx, web = request.app.state.ctx, request.app.state.web
    try:
        member_id = await run_in_threadpool(signin_codes.check_code, ctx, phone, code, web.now())
    except JifenError as exc:
        return page(
            request,
            TEMPLATE,
            status=exc.status,
            step="code",
            phone=phone,
            next=safe_next(next, ""),
            configured=web.sms is not None,
            ttl=None,
            error=describe(request, exc),
        )
    target = safe_next(next, "/me")
    if await run_in_threadpool(privacy.needs_notice, ctx, member_id):
        # the notice first; its button goes on to where the member was going (a share link)
        target = "/privacy?first=1&next=" + quote(target, safe="/")
    who = Caller("member", member_id=member_id)
    return await run_in_threadpool(signed_in_response, request, who, target)
