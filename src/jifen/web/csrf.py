"""CSRF protection for every form (signed double-submit, OWASP's "signed double-submit cookie").

The browser holds a random nonce in an HTTP-only cookie; every form carries
``HMAC(store secret, nonce)``. A post is accepted only if the two agree, so another site, which
can make a browser post but can read neither the cookie nor our pages, cannot forge one. It
covers the sign-in forms too (login CSRF), where no session exists yet. A post whose ``Origin``
names another site is refused even with a token. SameSite cookies are a second wall, not the
only one.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request

from jifen.app.context import Context
from jifen.web.errors import CsrfRefused

COOKIE = "jifen_csrf"
FIELD = "csrf"
PURPOSE = "web-csrf"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_for(ctx: Context, nonce: str) -> str:
    return ctx.secrets.mac(PURPOSE, nonce)


def nonce_of(request: Request) -> str:
    """This browser's nonce: its cookie, or one made for this response (``render`` sets it)."""
    known = request.cookies.get(COOKIE) or getattr(request.state, "csrf_nonce", None)
    if not known:
        known = new_nonce()
        request.state.csrf_nonce = known
    return str(known)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def check(request: Request) -> None:
    """The dependency every console form's route takes: refuse a post without the token."""
    ctx: Context = request.app.state.ctx
    nonce = request.cookies.get(COOKIE)
    form = await request.form()  # parsed once; the route's own Form fields read the same
    sent = form.get(FIELD)
    if (
        not nonce
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent, token_for(ctx, nonce))
        or not _same_origin(request)
    ):
        raise CsrfRefused("表单已失效，请刷新页面后重试 / the form has expired: reload and retry")
