"""Liveness (``/healthz``), readiness (``/readyz``) and metrics (``/metrics``).

``/healthz`` says the process answers; ``/readyz`` says it can do its work: each readiness check
runs and the answer names every one. Readiness checks are plain functions of the context; the
app runs ``app.state.readiness_checks`` (by default ``READINESS_CHECKS``), so another check (e.g.
"the secret is recognised") is added by appending a function there, or by passing
``create_app(ctx, readiness_checks=[...])``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from jifen.api.auth import Ctx, Operator
from jifen.api.errors import NotReady
from jifen.api.problems import problem
from jifen.api.schemas import Problem
from jifen.app import secret_recognised
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.store.engine import MIGRATIONS

log = logging.getLogger("jifen.api")


@dataclass(frozen=True)
class ReadinessCheck:
    """``run`` returns what it found when all is well and raises ``NotReady`` (or any
    ``JifenError``) when not; a store error it raises is ``store.unavailable``."""

    name: str
    run: Callable[[Context], str]


@dataclass(frozen=True)
class Check:
    """One readiness check's outcome. ``code`` is the stable error code when it failed."""

    name: str
    ok: bool
    detail: str
    code: str | None = None


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    status: Literal["ready"]
    checks: list[CheckOut]


class NotReadyProblem(Problem):
    """The problem ``/readyz`` answers with: every check, the failed ones with ``ok: false``."""

    checks: list[CheckOut]


def _store_answers(ctx: Context) -> str:
    with ctx.engine.connect() as conn:
        conn.execute(text("select 1"))
    return "数据库可连接 / the store answers"


@cache
def _head_revisions() -> tuple[str, ...]:
    """The migrations this code ships (read once from the package's alembic scripts)."""
    return tuple(sorted(ScriptDirectory(str(MIGRATIONS)).get_heads()))


def _migrations_at_head(ctx: Context) -> str:
    with ctx.engine.connect() as conn:
        current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    head = ", ".join(_head_revisions())
    if current != _head_revisions():
        found = ", ".join(current)
        raise NotReady(
            f"数据库结构版本为 {found or '无'}，应为 {head} / "
            f"the store's schema is at {found or 'no revision'}, this code needs {head}"
        )
    return f"数据库结构为最新版本 {head} / the store's schema is at {head}"


def _secret_recognised(ctx: Context) -> str:
    if not secret_recognised(ctx):
        raise NotReady(
            "数据库不认识当前密钥（或其校验值已丢失）/ the store does not recognise this secret "
            "(or its check value is gone)"
        )
    return "密钥与数据库相符 / the store recognises the secret"


READINESS_CHECKS: list[ReadinessCheck] = [
    ReadinessCheck("store", _store_answers),
    ReadinessCheck("migrations", _migrations_at_head),
    ReadinessCheck("secret", _secret_recognised),
]
"""The checks every app runs by default, in order. Append to add one everywhere."""


def run_check(check: ReadinessCheck, ctx: Context) -> Check:
    try:
        return Check(check.name, True, check.run(ctx))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("readiness check %s: the store did not answer (%s)", check.name,
                    type(exc).__name__)  # fmt: skip
        return Check(
            check.name, False, "数据库不可用 / the store does not answer", "store.unavailable"
        )
    except JifenError as exc:
        return Check(check.name, False, exc.message, exc.code)
    except Exception:
        log.exception("readiness check %s failed", check.name)
        return Check(check.name, False, "检查出错 / the check failed", NotReady.code)


router = APIRouter(tags=["public 公开"])
metrics_router = APIRouter(tags=["operator 平台方"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """存活检查 / liveness: the process answers (it reads nothing)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": NotReadyProblem, "description": "not ready: the checks, named"}},
)
def readyz(request: Request, ctx: Ctx) -> JSONResponse:
    """就绪检查 / readiness: the store answers and its schema is the one this code expects."""
    checks: list[ReadinessCheck] = request.app.state.readiness_checks
    results = [run_check(check, ctx) for check in checks]
    listed = [CheckOut(name=c.name, ok=c.ok, detail=c.detail).model_dump() for c in results]
    failed = [c for c in results if not c.ok]
    if not failed:
        return JSONResponse({"status": "ready", "checks": listed})
    return problem(
        503,
        failed[0].code or NotReady.code,
        request,
        detail_key="checks",
        failed=", ".join(c.name for c in failed),
        checks=listed,
    )


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, who: Operator) -> Response:
    """Prometheus 指标（运营方密钥）/ Prometheus metrics, text exposition format (operator key)."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
