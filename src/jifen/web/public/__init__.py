"""The public pages (公开信息): the rules in force, what is coming, the alliance's merchants,
the liabilities and reserve, and the signed checkpoints of members' points. Nobody signs in to
read them. (The privacy notice, ``/privacy``, is the member console's:
``jifen.web.member.privacy``.)"""

from __future__ import annotations

from fastapi import APIRouter

from jifen.web.public import checkpoints, liabilities, merchants, rules

router = APIRouter(include_in_schema=False)
for _pages in (rules, merchants, liabilities, checkpoints):
    router.include_router(_pages.router)
