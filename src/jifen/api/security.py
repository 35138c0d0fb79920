"""Response headers every answer carries, and the two HTML documentation pages' own policy.

- ``Cache-Control: no-store`` on every answer to a request that carries credentials, every
  answer to a write and every refusal: the answers that hand out a merchant's API key, a member
  token or a redemption code must never sit in a cache. A public read that succeeded gets
  ``no-cache`` (a cache may keep it, but must ask again before reusing it).
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
  no-referrer``, and a ``Content-Security-Policy`` that allows nothing (``default-src 'none'``):
  a JSON answer is never a page, so nothing it says may run or be framed.
- ``/docs`` (Swagger UI) and ``/redoc`` load their code from the server itself, never from a
  CDN, so they work on a network without the internet: the bundles are the files the
  ``fastapi-offline`` package ships (Swagger UI 5, ReDoc 2; nothing else of it is used), served
  under ``/docs/static/``. The pages get a policy naming only ``'self'``, their inline script by
  its SHA-256, and the API itself (``connect-src 'self'``) to fetch the OpenAPI document. Both
  pages were checked in headless Chromium: they render with no violation reported, and neither
  needs ``'unsafe-eval'``.

Documented for operators in docs/operations.md.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_STATIC = "/docs/static"
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
"""The files the two documentation pages load, by name, with their media types."""
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
STATIC_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
SAFE_METHODS = frozenset({"GET", "HEAD"})
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to every response (problems included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credentials = any(name == b"authorization" for name, _ in scope.get("headers", ()))
        safe = scope["method"] in SAFE_METHODS

        async def headed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != b"cache-control"
                ]
                names = {name.lower() for name, _ in headers}
                cacheable = safe and not credentials and message["status"] < 400
                headers.append((b"cache-control", b"no-cache" if cacheable else b"no-store"))
                headers.extend(h for h in STATIC_HEADERS if h[0] not in names)
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", API_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, headed_send)


def _script_hashes(html: str) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in _INLINE_SCRIPT.findall(html)
    )


@cache
def _asset(name: str) -> bytes:
    """One bundle from the package that ships them, read once (they are a few MiB in all)."""
    return (files("fastapi_offline") / "static" / name).read_bytes()


def _with_policy(page: HTMLResponse, **directives: str) -> HTMLResponse:
    policy = {
        "default-src": "'none'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "connect-src": "'self'",
        "img-src": "'self' data:",
        **directives,
    }
    page.headers["Content-Security-Policy"] = "; ".join(f"{k} {v}" for k, v in policy.items())
    return page


def install_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve Swagger UI and ReDoc (create the app with ``docs_url=None`` and ``redoc_url=None``)
    and the files they load, each page with a policy that lets it load and nothing else."""
    assert app.openapi_url is not None

    @app.get(DOCS_STATIC + "/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            raise HTTPException(404)  # answered as the problem `not_found`, like any path
        return Response(_asset(name), media_type=DOCS_ASSETS[name])

    def static(request: Request, name: str) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/") + f"{DOCS_STATIC}/{name}"

    def openapi_url(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/") + str(app.openapi_url)

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=static(request, "swagger-ui-bundle.js"),
            swagger_css_url=static(request, "swagger-ui.css"),
            swagger_favicon_url=static(request, "favicon.png"),
        )
        html = bytes(page.body).decode()
        return _with_policy(
            page,
            **{
                "script-src": f"'self' {_script_hashes(html)}".strip(),
                "style-src": "'self' 'unsafe-inline'",  # Swagger UI styles elements inline
            },
        )

    @app.get(redoc_url, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{app.title} - ReDoc",
            redoc_js_url=static(request, "redoc.standalone.js"),
            redoc_favicon_url=static(request, "favicon.png"),
            with_google_fonts=False,
        )
        return _with_policy(
            page,
            **{
                "script-src": "'self'",
                "style-src": "'unsafe-inline'",  # ReDoc writes its styles into the page
                "worker-src": "blob:",  # ReDoc's search index runs in a worker made from a blob
            },
        )
