"""Referral rewards on a merchant's orders (推荐奖励, issue 14): its recruiter, if any, and until
when the recruiter shares its order flow; the rewards its own orders carried, with their level,
share and state. The operator pays them from its revenue: nothing here touches the merchant's
settlement or the points reserve. Read-only, from ``jifen.promoters.views``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.promoters import views
from jifen.web.access import MerchantPage
from jifen.web.merchant.common import PAGE_SIZE, context, mine, only_mine
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/merchant/referrals", response_class=HTMLResponse)
def referrals(
    request: Request, who: MerchantPage, cursor: str | None = None, merchant_id: str | None = None
) -> HTMLResponse:
    """This merchant's only: another merchant asked for by name is refused (403), whether or not
    it exists, as the statements are."""
    only_mine(who, merchant_id)
    ctx = context(request)
    found = views.merchant_rewards(ctx, mine(who), cursor, PAGE_SIZE)
    return page(
        request,
        "merchant/referrals.html",
        who=who,
        recruiter=views.merchant_recruiter(ctx, mine(who), ctx.clock.now()),
        rewards=found.items,
        next_cursor=found.next_cursor,
    )
