"""Every refusal as RFC 9457 problem details (``application/problem+json``) with a stable code.

Jifen's own errors carry their code and status; request validation (and a body that cannot be
parsed at all) becomes ``request.invalid`` with the offending fields in plain words
(``jifen.api._fields``); the HTTP layer's own refusals (no such path, method not allowed) keep
their status and headers (``Allow``); a store that does not answer is a 503 ``store.unavailable``.
Anything unexpected is a 500 ``internal`` that names no internals: the request middleware answers
it (see ``observability``), so that it carries the request id and is logged once, as one JSON line.

``title`` and ``detail`` are in the caller's language (``Accept-Language``, zh-CN by default;
``jifen.i18n``), from the message catalogue formatted with the error's context; ``code`` is the
same in every language, and the answer says which language it chose (``Content-Language``,
``Vary: Accept-Language``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Scope

from jifen import i18n
from jifen.api._fields import field_errors
from jifen.api.catalogue import API_ERRORS
from jifen.errors import JifenError

PROBLEM_TYPE = "https://jifen.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
STORE_RETRY_AFTER_S = 5
"""What a 503 asks a client to wait before it retries (the store may be restarting)."""
log = logging.getLogger("jifen.api")

TITLES = {
    # HTTP's own names of the statuses (the OpenAPI document's response descriptions)
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

HTTP_REFUSALS: dict[int, tuple[int, str, str | None]] = {
    # the HTTP layer's status → (status we answer, stable code, the catalogue's detail_key)
    404: (404, "not_found", None),
    405: (405, "method_not_allowed", None),
    # FastAPI's only 400: a body it could not decode (deep nesting, a number past Python's
    # digit limit, bytes that are not UTF-8). To a client that is an invalid request like any.
    400: (422, "request.invalid", "body"),
}


def language_of(scope: Scope) -> str:
    """The language a request asked for (``Accept-Language``), for answers made outside a
    route (the middlewares have a scope, not a ``Request``)."""
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            return i18n.negotiate(value.decode("latin-1"))
    return i18n.DEFAULT_LANGUAGE


def problem_response(
    status: int,
    code: str,
    instance: str | None,
    *,
    lang: str,
    headers: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem as a response, for handlers and for the middlewares that answer by themselves:
    ``title`` and ``detail`` from the message catalogue in ``lang``, the detail formatted with
    ``context``. Only catalogued codes are answered (``catalogue.API_ERRORS``); any other is a
    bug in the server, logged and answered as ``internal``."""
    if API_ERRORS.get(code) != status:
        log.error("refusal outside the error catalogue: %s (%s)", code, status)
        status, code, context, headers, extra = 500, "internal", None, None, {}
    body = {
        "type": PROBLEM_TYPE + code,
        "title": i18n.title(code, lang),
        "status": status,
        "detail": i18n.message(code, lang, **_readable(context or {})),
        "code": code,
        "instance": instance,
        **{k: v for k, v in extra.items() if v is not None},
    }
    merged = {**(headers or {}), "Content-Language": lang, "Vary": "Accept-Language"}
    if status == 401:
        merged.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status, headers=merged, media_type=PROBLEM_MEDIA_TYPE)


def problem(status: int, code: str, request: Request, **context: Any) -> JSONResponse:
    """A problem answering ``request`` in its language; ``context`` fills the detail, and a
    ``checks`` or ``errors`` list in it is also given in the body."""
    extra = {k: context[k] for k in ("checks", "errors") if k in context}
    return problem_response(
        status, code, request.url.path, lang=language_of(request.scope), context=context, **extra
    )


def _readable(context: Mapping[str, Any]) -> dict[str, Any]:
    """Context values as a message shows them: times in ISO 8601, lists joined."""
    shown: dict[str, Any] = {}
    for name, value in context.items():
        if isinstance(value, datetime | date):
            shown[name] = value.isoformat()
        elif isinstance(value, list | tuple | set | frozenset):
            shown[name] = ", ".join(str(v) for v in value)
        else:
            shown[name] = value
    return shown


def _safe(value: Any) -> Any:
    """Context values as JSON: plain values kept, anything else as text."""
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return str(value)


ROUTABLE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path. Starlette names only the first matching
    route's methods, but a path's GET and its POST are two routes: ask every route about every
    method instead."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in ROUTABLE_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(JifenError)
    async def jifen_error(request: Request, exc: JifenError) -> JSONResponse:
        errors = exc.context.get("errors") or exc.context.get("reductions")
        retry_after_s = exc.context.get("retry_after_s")
        headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
        return problem_response(
            exc.status,
            exc.code,
            request.url.path,
            lang=language_of(request.scope),
            headers=headers,
            context=exc.context,
            errors=_safe(errors),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = language_of(request.scope)
        errors = field_errors(exc.errors(), lang)
        first = errors[0] if errors else {"path": "", "message": ""}
        return problem(
            422,
            "request.invalid",
            request,
            detail_key="fields",
            path=first["path"],
            message=first["message"],
            errors=errors,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        own_code = getattr(exc, "code", None)  # our own HTTP-level refusals (request.too_large)
        status, code, detail_key = (
            (exc.status_code, own_code, None)
            if isinstance(own_code, str)
            else HTTP_REFUSALS.get(exc.status_code, (exc.status_code, "http.error", None))
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        context = {**getattr(exc, "context", {}), "detail_key": detail_key}
        return problem_response(
            status,
            code,
            request.url.path,
            lang=language_of(request.scope),
            headers=headers,
            context=context,
        )

    @app.exception_handler(OperationalError)
    async def store_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("the store did not answer: %s", type(exc.orig).__name__)
        return problem_response(
            503,
            "store.unavailable",
            request.url.path,
            lang=language_of(request.scope),
            headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
        )
