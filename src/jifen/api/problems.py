"""Every refusal as RFC 9457 problem details (``application/problem+json``) with a stable code.

Jifen's own errors carry their code and status; request validation becomes ``request.invalid``
with the offending fields; anything unexpected is a 500 ``internal`` that names no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jifen.errors import JifenError

PROBLEM_TYPE = "https://jifen.dev/problems/"
log = logging.getLogger("jifen.api")

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    500: "Internal Server Error",
}


def problem(status: int, code: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **{k: v for k, v in extra.items() if v is not None},
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def _safe(value: Any) -> Any:
    """Context values as JSON: plain values kept, anything else as text."""
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return str(value)


def install(app: FastAPI) -> None:
    @app.exception_handler(JifenError)
    async def jifen_error(request: Request, exc: JifenError) -> JSONResponse:
        errors = exc.context.get("errors") or exc.context.get("reductions")
        return problem(exc.status, exc.code, exc.message, request, errors=_safe(errors))

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
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http.error")
        return problem(exc.status_code, code, str(exc.detail), request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return problem(500, "internal", "内部错误 / internal error", request)
