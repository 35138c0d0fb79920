"""The member's console."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen.web.access import MemberPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/me", response_class=HTMLResponse)
def home(request: Request, who: MemberPage) -> HTMLResponse:
    return page(request, "member/home.html", who=who)


@router.get("/me/signin", response_class=HTMLResponse)
def signin_form(request: Request) -> HTMLResponse:
    """Placeholder until the SMS sign-in lands (issue 13, member console)."""
    return page(request, "member/home.html")
