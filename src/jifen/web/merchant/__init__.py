"""The merchant's console (商户中心, docs/consoles.md): record a cash order or a refund, accept a
redemption by the member's code, statements and exports, the split status of recent orders, and
the keys of its stores. Every page calls the service the matching ``/v1`` merchant route calls,
scoped to the signed-in merchant: another merchant's order, statement, redemption or key is not
found, the same answer as one that does not exist."""

from __future__ import annotations

from fastapi import APIRouter

from jifen.web.merchant import home, keys, orders, redeem, referrals, statements

router = APIRouter(include_in_schema=False)
for part in (home, orders, redeem, statements, referrals, keys):
    router.include_router(part.router)

__all__ = ["router"]
