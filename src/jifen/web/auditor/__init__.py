"""The auditor's console."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.web.access import AuditorPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/auditor", response_class=HTMLResponse)
def home(request: Request, who: AuditorPage) -> HTMLResponse:
    return page(request, "auditor/home.html", who=who)
