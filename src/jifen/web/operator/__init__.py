"""The operator's console (平台方): the home page with the alliance's headline figures, and the
areas beside it — merchants (onboard, suspend, reactivate), CSV imports, rule versions (draft
with the compliance linter's findings inline, publish with notice and reason, withdraw) and the
reports (``reports``, built on its own). docs/consoles.md, "Operator"."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.alliance.members import count_members
from jifen.alliance.merchants import count_by_status
from jifen.app.context import Context
from jifen.rules import NoRulesInForce
from jifen.web.access import OperatorPage
from jifen.web.operator import imports, merchants, reports, rules
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/operator", response_class=HTMLResponse)
def home(request: Request, who: OperatorPage) -> HTMLResponse:
    """Links to everything, and three figures: merchants by status, members, the rules in force
    (with what is announced and what waits as a draft, so nothing pending is forgotten)."""
    ctx: Context = request.app.state.ctx
    now = ctx.clock.now()
    try:
        in_force: int | None = ctx.rulebook.in_force(now).number
    except NoRulesInForce:
        in_force = None
    versions = rules.standing(ctx, now)
    return page(
        request,
        "operator/home.html",
        who=who,
        merchants=count_by_status(ctx),
        members=count_members(ctx),
        in_force=in_force,
        announced=sum(1 for v in versions if v.status == "published"),
        drafts=sum(1 for v in versions if v.status == "draft"),
    )


router.include_router(merchants.router)
router.include_router(imports.router)
router.include_router(rules.router)
router.include_router(reports.router)
