"""The public pages (公开信息): the rules in force, what is coming, the alliance's merchants,
and the liabilities and reserve. Nobody signs in to read them. (The privacy notice, ``/privacy``,
is the member console's: ``jifen.web.member.privacy``.)"""

from __future__ import annotations

from fastapi import APIRouter

from jifen.web.public import liabilities, merchants, rules

router = APIRouter(include_in_schema=False)
for _pages in (rules, merchants, liabilities):
    router.include_router(_pages.router)
