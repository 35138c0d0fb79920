"""The member's console (会员): sign in with an SMS code, balance, history, a redemption code to
show at checkout, my proof of liabilities against the signed checkpoint, and my personal
information (privacy notice, export, consents, erasure).

No member URL names a member: every page reads the member id from the session only, so there
is no parameter through which one member could ask for another's data.
"""

from __future__ import annotations

from fastapi import APIRouter

from jifen.web.member import account, privacy, proof, referrals, share, signin

router = APIRouter(include_in_schema=False)
router.include_router(signin.router)
router.include_router(account.router)
router.include_router(referrals.router)
router.include_router(share.router)
router.include_router(proof.router)
router.include_router(privacy.router)
