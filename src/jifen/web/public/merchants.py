"""The alliance's merchants (联盟商户): who a member can earn and spend points with."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.alliance.merchants import Merchant, MerchantStatus, list_merchants
from jifen.app.context import Context
from jifen.web.access import Viewer
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
PAGE = 100
MAX_MERCHANTS = 10_000
"""A bound on one page's list; an alliance larger than this needs paging here."""


def active_merchants(ctx: Context) -> list[Merchant]:
    """Every active merchant, by id: where points are earned and accepted today. Suspended and
    closed ones are left out (a member cannot use them); their KYC is never shown."""
    found: list[Merchant] = []
    cursor: str | None = None
    while len(found) < MAX_MERCHANTS:
        batch = list_merchants(ctx, cursor=cursor, limit=PAGE)
        found += [m for m in batch.items if m.status is MerchantStatus.ACTIVE]
        cursor = batch.next_cursor
        if cursor is None:
            break
    return found


@router.get("/alliance", response_class=HTMLResponse)
def alliance(request: Request, who: Viewer) -> HTMLResponse:
    merchants = active_merchants(request.app.state.ctx)
    return page(request, "public/alliance.html", who=who, merchants=merchants)
