"""Every refusal as RFC 9457 problem details (``application/problem+json``) with a stable code.

Jifen's own errors carry their code and status; request validation (and a body that cannot be
parsed at all) becomes ``request.invalid`` with the offending fields; the HTTP layer's own
refusals (no such path, method not allowed) keep their status and headers (``Allow``); a store
that does not answer is a 503 ``store.unavailable``. Anything unexpected is a 500 ``internal``
that names no internals: the request middleware answers it (see ``observability``), so that it
carries the request id and is logged once, as one JSON line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from jifen.api.catalogue import API_ERRORS
from jifen.errors import JifenError

PROBLEM_TYPE = "https://jifen.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
STORE_RETRY_AFTER_S = 5
"""What a 503 asks a client to wait before it retries (the store may be restarting)."""
log = logging.getLogger("jifen.api")
INTERNAL_DETAIL = "内部错误 / internal error"

TITLES = {
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

HTTP_REFUSALS: dict[int, tuple[int, str, str]] = {
    # the HTTP layer's status → (status we answer, stable code, bilingual detail)
    404: (404, "not_found", "无此路径 / no such path"),
    405: (405, "method_not_allowed", "该路径不支持此方法 / method not allowed on this path"),
    # FastAPI's only 400: a body it could not decode (deep nesting, a number past Python's
    # digit limit, bytes that are not UTF-8). To a client that is an invalid request like any.
    400: (422, "request.invalid", "请求体无法解析为 JSON / the request body is not valid JSON"),
}


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str | None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem as a response, for handlers and for the middlewares that answer by themselves.
    Only catalogued codes are answered (``catalogue.API_ERRORS``); any other is a bug in the
    server, logged and answered as ``internal``."""
    if API_ERRORS.get(code) != status:
        log.error("refusal outside the error catalogue: %s (%s)", code, status)
        status, code, detail, headers, extra = 500, "internal", INTERNAL_DETAIL, None, {}
    body = {
        "type": PROBLEM_TYPE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        **{k: v for k, v in extra.items() if v is not None},
    }
    merged = dict(headers or {})
    if status == 401:
        merged.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status, headers=merged or None, media_type=PROBLEM_MEDIA_TYPE)


def problem(status: int, code: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    return problem_response(status, code, detail, request.url.path, **extra)


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
            exc.status, exc.code, exc.message, request.url.path, headers, errors=_safe(errors)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"path": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg"))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"path": "", "message": "invalid request"}
        return problem(
            422,
            "request.invalid",
            f"请求无效 / invalid request: {first['path']}: {first['message']}",
            request,
            errors=errors,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        own_code = getattr(exc, "code", None)  # our own HTTP-level refusals (request.too_large)
        status, code, detail = (
            (exc.status_code, own_code, str(exc.detail))
            if isinstance(own_code, str)
            else HTTP_REFUSALS.get(
                exc.status_code, (exc.status_code, "http.error", f"请求被拒绝 / {exc.detail}")
            )
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(status, code, detail, request.url.path, headers)

    @app.exception_handler(OperationalError)
    async def store_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error("the store did not answer: %s", type(exc.orig).__name__)
        return problem_response(
            503,
            "store.unavailable",
            "数据库暂不可用，请稍后重试 / the store is unavailable; retry later",
            request.url.path,
            {"Retry-After": str(STORE_RETRY_AFTER_S)},
        )
