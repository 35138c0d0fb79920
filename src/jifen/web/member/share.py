"""A promoter's share link, ``/r/{code}`` (issue 14, brief §8: a referrer is bound once, at the
first scan or shared link).

Opening the link never binds: a chat app's link preview, a crawler or a prefetch opens it too,
and a member must not be bound by what their phone fetched for them. A signed-in member is asked
"bind this promoter as your referrer?" and binds with the page's form (a CSRF-protected POST);
the answer is a redirect to ``/me/referrals``, which says what came of it. Anyone else reads the
alliance's referral terms in plain words and a sign-in link that returns here. A code that names
no live promoter is the site's ordinary missing page, the same for a forged code and an erased
promoter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from jifen.app.context import Context
from jifen.promoters import AlreadyBound, PromoterNotFound, ReferralCycle, graph, views
from jifen.rules import NoRulesInForce
from jifen.web import csrf
from jifen.web.access import MemberPage, Viewer
from jifen.web.public import plain
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
MAX_CODE_CHARS = 80
"""A code is a member id (32 characters at most) and 8 of a MAC: anything longer names nobody."""
REFERRALS = "/me/referrals"


def _promoter(ctx: Context, code: str) -> str:
    """The live promoter ``code`` names, else the missing page (404): a forged code and an
    erased promoter look alike, and neither is told apart from a page that does not exist."""
    if len(code) > MAX_CODE_CHARS:
        raise HTTPException(404)
    try:
        return graph.promoter_of_code(ctx, code)
    except PromoterNotFound:
        raise HTTPException(404) from None


def _terms(ctx: Context) -> list[plain.Term]:
    """The referral terms of the rules in force, as the public rules page words them (none: the
    alliance pays no referral rewards now, and the page says so)."""
    try:
        return plain.referral_terms(ctx.rulebook.in_force(ctx.clock.now()).document)
    except NoRulesInForce:
        return []


@router.get("/r/{code}", response_class=HTMLResponse)
def share(request: Request, code: str, who: Viewer) -> HTMLResponse:
    """What the link is, and for a member the form that binds it (never bound here)."""
    ctx = request.app.state.ctx
    promoter = _promoter(ctx, code)
    context: dict[str, Any] = {"state": "visitor", "held": None}
    if who is not None and who.role == "member":
        assert who.member_id is not None
        held = graph.referrer_of(ctx, who.member_id)
        if promoter == who.member_id:
            context["state"] = "own"
        elif held is not None:
            context["state"] = "same" if held.promoter_id == promoter else "bound"
            context["held"] = views.masked(held.promoter_id)
        else:
            context["state"] = "ask"
    return page(
        request,
        "member/share.html",
        who=who,
        code=code,
        promoter=views.masked(promoter),
        terms=_terms(ctx),
        signin=f"/me/signin?next={quote(graph.share_path(code), safe='/')}",
        **context,
    )


def _bind(ctx: Context, member_id: str, code: str) -> str:
    """Bind, and say how it went as one of ``referrals.LINK_OUTCOMES``."""
    try:
        bound = graph.bind_by_code(ctx, member_id, code, source="link")
    except AlreadyBound:
        return "already_bound"
    except ReferralCycle as exc:
        return "self" if exc.context.get("detail_key") == "self" else "cycle"
    except PromoterNotFound:  # erased since the page was read
        raise HTTPException(404) from None
    return "replayed" if bound.replayed else "bound"


@router.post("/r/{code}", dependencies=[Depends(csrf.check)])
async def bind(request: Request, code: str, who: MemberPage) -> Response:
    """The member's own choice to bind the link's promoter; ``/me/referrals`` says the result."""
    ctx = request.app.state.ctx
    _promoter(ctx, code)
    assert who.member_id is not None
    outcome = await run_in_threadpool(_bind, ctx, who.member_id, code)
    return RedirectResponse(f"{REFERRALS}?link={outcome}", status_code=303)
