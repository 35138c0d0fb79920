"""The HTTP API (FastAPI): it only translates HTTP to a service call and back.

Roles: operator, merchant and auditor API keys, member tokens, and public reads. Every write
carries an ``Idempotency-Key``; every refusal is RFC 9457 problem details with a stable ``code``.
OpenAPI is served at ``/openapi.json`` (every error it can answer documented on each operation)
and browsable at ``/docs``. Around the routes, outermost first: security and cache headers,
request ids with one JSON log line and metrics per request, and the request body limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from jifen import __version__
from jifen.api import (
    health,
    openapi,
    problems,
    routes_auditor,
    routes_checkpoints,
    routes_keys,
    routes_member,
    routes_merchant,
    routes_operator,
    routes_payments,
    routes_payouts,
    routes_public,
    routes_referrals,
    routes_tools,
    routes_webhooks,
    security,
)
from jifen.api.auth import KeyCache
from jifen.api.limits import MAX_BODY_BYTES, BodyLimit, FailedAuthLimiter
from jifen.api.observability import Metrics, RequestObserver
from jifen.app.clock import SimulatedClock
from jifen.app.context import Context
from jifen.app.group import GroupCommit, GroupSettings
from jifen.funds import Funds


def create_app(
    ctx: Context,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    auth_limiter: FailedAuthLimiter | None = None,
    readiness_checks: Sequence[health.ReadinessCheck] | None = None,
    funds: Funds | None = None,
    group: GroupSettings | None = GroupSettings(),  # noqa: B008 - frozen, shared safely
) -> FastAPI:
    """The API over ``ctx``. ``auth_limiter`` defaults to ``FailedAuthLimiter()`` (the limits in
    ``jifen.api.limits``); ``readiness_checks`` to ``health.READINESS_CHECKS``. ``funds``: the
    provider the money path uses (without one, its routes answer ``payment.not_configured``).
    ``group``: how concurrent writes are group-committed (``jifen.app.group``); ``None`` runs
    each write in a transaction of its own."""
    app = FastAPI(
        title="Jifen 积分联盟 API",
        version=__version__,
        description="异业联盟积分平台 / coalition loyalty points. Errors: RFC 9457 problems.",
        docs_url=None,  # served by security.install_docs, with a content security policy
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.funds = funds
    app.state.auth_limiter = auth_limiter or FailedAuthLimiter()
    app.state.key_cache = KeyCache()
    app.state.readiness_checks = list(
        health.READINESS_CHECKS if readiness_checks is None else readiness_checks
    )
    metrics = Metrics(ctx, app.state.auth_limiter)
    app.state.metrics = metrics
    ctx.ledger.observers.append(metrics.batch_committed)
    app.state.group = GroupCommit(ctx, group) if group is not None else None
    if app.state.group is not None:
        app.state.group.observers.append(metrics.group_committed)
    problems.install(app)
    security.install_docs(app)

    app.include_router(health.router)
    app.include_router(routes_public.router)
    app.include_router(routes_tools.router)
    app.include_router(routes_operator.router)
    app.include_router(routes_merchant.router)
    app.include_router(routes_keys.router)
    app.include_router(routes_auditor.router)
    app.include_router(routes_member.router)
    app.include_router(routes_referrals.router)
    app.include_router(routes_payments.router)
    app.include_router(routes_payments.notify_router)
    app.include_router(routes_payouts.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_checkpoints.router)
    app.include_router(health.metrics_router)
    if isinstance(ctx.clock, SimulatedClock):
        app.include_router(routes_operator.clock_router)

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)  # innermost of the three
    app.add_middleware(RequestObserver, metrics=metrics)
    app.add_middleware(security.SecurityHeaders)
    openapi.install(app)
    return app
