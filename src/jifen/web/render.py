"""Rendering a console page: one Jinja2 environment, the page's language, and the headers every
page carries.

Every word on a page comes from the message catalogue (``t("web.member.balance")``), in the
language the browser chose with the switch (a cookie), else its ``Accept-Language``, else zh-CN.
Text a person typed (a merchant's name, a rule's reason) is data, shown as written, inside an
element marked ``translate="no"``; ``tests/test_web_i18n.py`` holds both to that.

Pages load nothing from elsewhere: their policy allows the site itself only, no inline script
and no inline style, so a page cannot be made to run what it did not ship.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from jifen import i18n
from jifen.api.auth import Caller
from jifen.errors import JifenError
from jifen.web import csrf

LANG_COOKIE = "jifen_lang"
CHINA = ZoneInfo("Asia/Shanghai")
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_REFERRER_POLICY = "same-origin"
"""Not the API's ``no-referrer``: under it a browser sends ``Origin: null`` with every form post,
its own site's included, and the CSRF check (which refuses a null origin) refused every form in
real Chromium. ``same-origin`` sends the origin to this site only, so other sites still learn
nothing from our pages; a post made by another site's page names that site (or null, under its
own policy) and is refused either way."""
YEAR = 365 * 24 * 3600
ENDONYMS = {"zh-CN": "中文", "en": "English"}
"""Each language named in itself on the switch (a reader looks for their own language's name),
so these are data, not catalogue messages."""

env = Environment(
    loader=PackageLoader("jifen.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in i18n.LANGUAGES:
        return str(chosen)
    return i18n.negotiate(request.headers.get("accept-language"))


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals (12345 → "123.45"), by integer arithmetic: no float."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def points(n: int) -> str:
    return f"{n:,}"


def china_time(at: datetime | None) -> str:
    """A moment as people in the alliance read it: China time, to the minute."""
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at else ""


def china_day(at: datetime | date | None) -> str:
    if at is None:
        return ""
    return (at.astimezone(CHINA).date() if isinstance(at, datetime) else at).isoformat()


env.filters.update(yuan=yuan, points=points, time=china_time, day=china_day)


def describe(request: Request, exc: JifenError) -> str:
    """A refusal in the page's language, from the same catalogue as the API's problems: a form
    shows it beside what was typed."""
    return i18n.message(exc.code, language(request), **exc.context)


def page(
    request: Request,
    template: str,
    *,
    who: Caller | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered for this request: its language, its CSRF token, who is signed in."""
    lang = language(request)
    nonce = csrf.nonce_of(request)

    def t(msgid: str, /, **fields: Any) -> str:
        return i18n.text(msgid, lang, **fields)

    html = env.get_template(template).render(
        t=t,
        lang=lang,
        languages=list(i18n.LANGUAGES),
        endonyms=ENDONYMS,
        csrf_token=csrf.token_for(request.app.state.ctx, nonce),
        csrf_field=csrf.FIELD,
        who=who,
        path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Referrer-Policy"] = PAGE_REFERRER_POLICY
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    if request.cookies.get(csrf.COOKIE) != nonce:
        set_cookie(request, response, csrf.COOKIE, nonce, max_age=None)
    return response


def set_cookie(
    request: Request, response: Any, name: str, value: str, *, max_age: int | None
) -> None:
    """Every cookie of the consoles: HTTP-only, SameSite=Lax, Secure unless configured off
    for plain HTTP on loopback (docs/consoles.md)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.app.state.web.cookie_secure,
        path="/",
    )
