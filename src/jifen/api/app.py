"""The HTTP API (FastAPI): it only translates HTTP to a service call and back.

Roles: operator and merchant API keys, member tokens, and public reads. Every write carries an
``Idempotency-Key``; every refusal is RFC 9457 problem details with a stable ``code``.
OpenAPI is served at ``/openapi.json`` and browsable at ``/docs``.
"""

from __future__ import annotations

from fastapi import FastAPI

from jifen import __version__
from jifen.alliance.clock import SimulatedClock
from jifen.alliance.context import Context
from jifen.api import problems, routes_member, routes_merchant, routes_operator, routes_public


def create_app(ctx: Context) -> FastAPI:
    app = FastAPI(
        title="Jifen 积分联盟 API",
        version=__version__,
        description="异业联盟积分平台 / coalition loyalty points. Errors: RFC 9457 problems.",
    )
    app.state.ctx = ctx
    problems.install(app)

    @app.get("/healthz", tags=["public 公开"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(routes_public.router)
    app.include_router(routes_operator.router)
    app.include_router(routes_merchant.router)
    app.include_router(routes_member.router)
    if isinstance(ctx.clock, SimulatedClock):
        app.include_router(routes_operator.clock_router)
    return app
