"""The operator's console."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.web.access import OperatorPage
from jifen.web.operator import reports
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
router.include_router(reports.router)


@router.get("/operator", response_class=HTMLResponse)
def home(request: Request, who: OperatorPage) -> HTMLResponse:
    return page(request, "operator/home.html", who=who)
