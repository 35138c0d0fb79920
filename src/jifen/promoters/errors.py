"""Errors of referral rewards and payouts: each a stable code (docs/referrals.md lists them)."""

from __future__ import annotations

from jifen.errors import JifenError


class ReferralError(JifenError):
    """The base every referral error derives from, to be caught, never raised itself."""

    code = "referral.error"
