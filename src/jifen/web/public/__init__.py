"""The public pages (公开信息): the rules in force, what is coming, the alliance's merchants,
and the liabilities and reserve. Nobody signs in to read them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.web.access import Viewer
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, who: Viewer) -> HTMLResponse:
    return page(request, "public/home.html", who=who)
