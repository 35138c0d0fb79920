"""Errors of referral rewards and payouts: each a stable code (docs/referrals.md lists them)."""

from __future__ import annotations

from jifen.errors import JifenError


class ReferralError(JifenError):
    """The base every referral error derives from, to be caught, never raised itself."""

    code = "referral.error"


class PromoterNotFound(ReferralError):
    """The promoter named (a member id, or a promoter code) is no member, or an erased one."""

    code = "referral.promoter_not_found"
    status = 404


class AlreadyBound(ReferralError):
    """The member (or merchant) has a referrer (recruiter) already: bound once; only the
    operator changes it, with a reason."""

    code = "referral.already_bound"
    status = 409


class ReferralCycle(ReferralError):
    """Self-referral, or a promoter whose own chain of referrers reaches the member."""

    code = "referral.cycle"
    status = 422
