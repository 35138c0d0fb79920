"""Driving the consoles over real HTTP as a browser would, without a browser: cookies kept, each
form posted with the CSRF token of the page it came from (the Playwright tests,
tests/test_web_browser.py, drive real Chromium; these are for the many checks a browser is too
slow for).

``site_alliance(db_url)`` is ``tools_kit.tools_alliance`` served with the consoles: rules in
force, merchants alpha (two stores) and beta, two members with points released.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fastapi.routing
import httpx

from api_server import OPERATOR_KEY, Server
from jifen.api.auth import Caller
from jifen.web import sessions
from tools_kit import Tools, tools_alliance

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser(httpx.Client):
    """A client that keeps cookies and remembers the CSRF token of the last page it read."""

    def __init__(self, server: Server, lang: str | None = None) -> None:
        super().__init__(base_url=server.base_url, timeout=30, follow_redirects=True)
        self.server = server
        self.token: str | None = None
        if lang:
            self.cookies.set("jifen_lang", lang, domain="127.0.0.1")

    def page(self, path: str, status: int = 200) -> str:
        r = self.get(path, headers={"accept": "text/html"})
        assert r.status_code == status, (path, r.status_code, r.text[:2000])
        if found := CSRF.search(r.text):
            self.token = found.group(1)
        return r.text

    def submit(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        """Post a form from the last page read, with its token (as the browser would)."""
        assert self.token, "read the page holding the form first"
        return self.post(
            path, data={"csrf": self.token, **(data or {})}, headers={"accept": "text/html"}, **kw
        )

    def sign_in(self, key: str) -> None:
        self.page("/signin")
        r = self.submit("/signin", {"key": key})
        assert r.status_code == 200 and "/signin" not in str(r.url), (r.url, r.text[:1000])

    def as_member(self, member_id: str) -> None:
        """A member's session without the SMS round (the sign-in itself is tested on its own)."""
        who = Caller("member", member_id=member_id)
        token = sessions.start(self.server.ctx, who, sessions.wall_clock())
        self.cookies.set(sessions.COOKIE, token, domain="127.0.0.1")


def web_routes(app: Any) -> list[Any]:
    """Every route of the consoles (endpoints in ``jifen.web``), those of included routers too:
    FastAPI 0.165 keeps an included router as one lazy entry in ``app.router.routes``, which
    ``fastapi.routing.iter_route_contexts`` opens. (The consoles' routers have no prefixes, so
    a route's own path is the path it answers.)"""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = [c.route for c in contexts(app.router.routes)] if contexts else app.router.routes
    found = [
        r
        for r in routes
        if getattr(r, "endpoint", None) is not None
        and r.endpoint.__module__.startswith("jifen.web")
    ]
    assert found, "no console route found: has FastAPI changed how it keeps included routers?"
    return found


def operator(server: Server, lang: str | None = None) -> Browser:
    b = Browser(server, lang)
    b.sign_in(OPERATOR_KEY)
    return b


@contextmanager
def site_alliance(db_url: str) -> Iterator[Tools]:
    with tools_alliance(db_url, site=True) as tools:
        yield tools


def merchant_key(tools: Tools, merchant_id: str) -> str:
    return tools.alliance.merchant_keys[merchant_id]


def auditor_key(server: Server) -> str:
    with server.operator() as op:
        r = op.post("/v1/auditors", json={"name": "audit-firm"})
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])
