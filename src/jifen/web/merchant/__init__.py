"""The merchant's console."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.web.access import MerchantPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/merchant", response_class=HTMLResponse)
def home(request: Request, who: MerchantPage) -> HTMLResponse:
    return page(request, "merchant/home.html", who=who)
