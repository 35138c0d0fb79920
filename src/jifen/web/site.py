"""The whole site: the HTTP API (``jifen.api``) and, on the same app, the consoles' pages.

The pages live beside the API, not behind it: a page calls the same services the API calls, in
the same process, with the same store, clock and secrets, so what a member reads on a page is
what the API would answer. ``jifen serve`` serves ``create_site``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from jifen import i18n
from jifen.api import create_app
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.sms import SmsSender
from jifen.web import auditor, member, merchant, operator, public, signin
from jifen.web.errors import SignInRequired
from jifen.web.render import language, page
from jifen.web.sessions import Now, wall_clock

PAGE_STATE = "jifen.web.page"
API_PREFIXES = ("/v1/", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics")
Handler = Callable[[Request, Any], Awaitable[Response]]


@dataclass(frozen=True)
class WebSettings:
    """How the consoles run. ``cookie_secure``: cookies only over HTTPS; switched off only for
    plain HTTP on loopback (``jifen serve`` decides from its public URL, docs/consoles.md).
    ``now``: the wall clock sessions and sign-in codes run on (tests move it). ``sms``: what
    sends members their sign-in codes (None: SMS sign-in is not configured, and the member
    sign-in page says so). ``public_url``: the site's address as people reach it (``jifen
    serve --public-url``), which links meant to leave the site carry (a promoter's share link);
    None: such links are paths on whatever address the page was read at."""

    cookie_secure: bool = True
    now: Now = field(default=wall_clock)
    sms: SmsSender | None = None
    public_url: str | None = None


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def cookies_secure_for(public_url: str) -> bool:
    """``Secure`` cookies unless the site is plain HTTP on loopback (a developer's machine, the
    tests): there a browser would drop them and nobody could sign in. Plain HTTP anywhere else
    keeps them ``Secure``, so a session never travels the network in clear (put TLS in front
    and give ``--public-url https://…``)."""
    parts = urlsplit(public_url)
    return not (parts.scheme == "http" and (parts.hostname or "") in LOOPBACK)


def create_site(ctx: Context, *, web: WebSettings | None = None, **api: Any) -> FastAPI:
    """The API (``create_app(ctx, **api)``) with the consoles installed on it."""
    app = create_app(ctx, **api)
    install(app, web or WebSettings())
    return app


async def _mark_page(request: Request) -> None:
    setattr(request.state, PAGE_STATE, True)


def install(app: FastAPI, web: WebSettings) -> None:
    app.state.web = web
    app.mount("/static", StaticFiles(packages=[("jifen.web", "static")]), name="static")
    for area in (signin, public, member, merchant, operator, auditor):
        app.include_router(area.router, dependencies=[Depends(_mark_page)])
    _install_error_pages(app)


def _is_page(request: Request) -> bool:
    if getattr(request.state, PAGE_STATE, False):
        return True
    path = request.url.path
    wants_html = "text/html" in request.headers.get("accept", "")
    return wants_html and not path.startswith(API_PREFIXES)


def _install_error_pages(app: FastAPI) -> None:
    """On a page, a refusal is a page in the reader's language (or, for nobody signed in, the
    sign-in form); on the API it stays RFC 9457 problem details, answered by the API's own
    handlers."""
    api_handlers: dict[Any, Handler] = dict(app.exception_handlers)

    def wrap(kind: Any) -> None:
        api_handler = api_handlers[kind]

        async def handler(request: Request, exc: Any) -> Response:
            if not _is_page(request):
                return await api_handler(request, exc)
            return error_page(request, exc)

        app.add_exception_handler(kind, handler)

    for kind in (JifenError, RequestValidationError, StarletteHTTPException):
        wrap(kind)


def error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        roles = exc.context.get("roles") or ()
        target = "/me/signin" if "member" in roles else "/signin"
        return RedirectResponse(f"{target}?next={quote(request.url.path)}", status_code=303)
    lang = language(request)
    if isinstance(exc, JifenError):
        status, code, detail = exc.status, exc.code, i18n.message(exc.code, lang, **exc.context)
    elif isinstance(exc, RequestValidationError):
        status, code = 422, "request.invalid"
        detail = i18n.message(code, lang)
    else:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "generic")
        detail = i18n.message(code, lang, code=code)
    return page(
        request, "error.html", status=status, code=code, title=i18n.title(code, lang), detail=detail
    )
