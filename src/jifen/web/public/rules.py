"""The rules pages: the version in force in plain words, the changes announced and not yet in
force (with their dates, reasons and diffs), and every version ever published.

They read exactly what ``GET /v1/public/rules/current``, ``/upcoming`` and ``/history`` answer
(``jifen.api.routes_public``): the same rulebook calls, the same statuses.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.app.context import Context
from jifen.app.rulebook import views_at
from jifen.rules import NoRulesInForce, Version, VersionStatus
from jifen.web.access import Viewer
from jifen.web.public import plain
from jifen.web.public.merchants import active_merchants
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def explained(version: Version, categories: Iterable[str]) -> dict[str, object]:
    """What a template shows of one version's document, in plain words; ``categories``: the
    alliance's merchants' trades, each shown with its rate."""
    doc = version.document
    return {
        "terms": plain.terms(doc),
        "categories": plain.category_rates(doc, categories),
        "merchants": plain.merchant_rates(doc),
        "campaigns": plain.campaigns(doc),
    }


@router.get("/", response_class=HTMLResponse)
def home(request: Request, who: Viewer) -> HTMLResponse:
    """The rules in force and the changes announced, as the public rule routes answer them."""
    ctx = _ctx(request)
    now = ctx.clock.now()
    published = ctx.rulebook.published()
    try:
        current: Version | None = ctx.rulebook.in_force(now)
    except NoRulesInForce:
        current = None
    upcoming = [v for v in views_at(published, now) if v.status is VersionStatus.PUBLISHED]
    trades = {m.category for m in active_merchants(ctx)}
    return page(
        request,
        "public/rules.html",
        who=who,
        current=current,
        plain=explained(current, trades) if current else None,
        upcoming=[(v.version, explained(v.version, trades)) for v in upcoming],
    )


@router.get("/rules/history", response_class=HTMLResponse)
def history(request: Request, who: Viewer) -> HTMLResponse:
    """Every published version, withdrawn ones included, newest first, each with its status."""
    ctx = _ctx(request)
    views = views_at(ctx.rulebook.published(), ctx.clock.now())
    return page(request, "public/history.html", who=who, versions=list(reversed(views)))
