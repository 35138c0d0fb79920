"""Who is looking at a page: the session cookie resumed into a ``Caller`` (the API's own type,
so a console page asks the services exactly what the API would for the same person)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from jifen.api.auth import Caller
from jifen.api.errors import Forbidden
from jifen.web import sessions
from jifen.web.errors import SignInRequired


async def viewer(request: Request) -> Caller | None:
    """The signed-in caller, or None. The store is read on a pool thread, never the loop."""
    token = request.cookies.get(sessions.COOKIE)
    if not token:
        return None
    web = request.app.state.web
    return await run_in_threadpool(sessions.resume, request.app.state.ctx, token, web.now())


Viewer = Annotated[Caller | None, Depends(viewer)]


def signed_in(*roles: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the caller, who must hold one of ``roles``. Nobody signed in is sent to the
    sign-in page (``SignInRequired``); someone signed in as another role is refused (403), the
    same answer whether or not the thing asked for exists."""

    async def check(request: Request, who: Viewer) -> Caller:
        if who is None:
            raise SignInRequired("请先登录 / please sign in", roles=roles)
        if who.role not in roles:
            raise Forbidden("无权访问 / not allowed")
        return who

    return check


OperatorPage = Annotated[Caller, Depends(signed_in("operator"))]
MerchantPage = Annotated[Caller, Depends(signed_in("merchant"))]
AuditorPage = Annotated[Caller, Depends(signed_in("auditor", "operator"))]
"""The auditor's views are read-only; the operator may open them too (docs/auditor.md)."""
MemberPage = Annotated[Caller, Depends(signed_in("member"))]
