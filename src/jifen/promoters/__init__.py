"""Referral rewards and their payouts, the store half (brief §8, docs/referrals.md).

The referral graph, rewards accrued at the end of their orders' return windows, payees, payout
batches with the income tax withheld, statements and the withholding report. It stands above
``jifen.funds`` (its payouts go through the provider) and below ``jifen.jobs``; the decisions
are ``jifen.referral``'s."""

from __future__ import annotations

from jifen.promoters.accrual import (
    AccrualResult,
    Reward,
    accrual_key,
    accrue_due,
    list_rewards,
    track_orders,
)
from jifen.promoters.errors import AlreadyBound, PromoterNotFound, ReferralCycle, ReferralError
from jifen.promoters.graph import (
    Binding,
    RecruiterBinding,
    bind_by_code,
    bind_recruiter,
    bind_referrer,
    chain,
    change_referrer,
    promoter_code,
    promoter_of_code,
    recruiter_of,
    referrer_of,
    share_path,
)

__all__ = [
    "AccrualResult",
    "AlreadyBound",
    "Binding",
    "PromoterNotFound",
    "RecruiterBinding",
    "ReferralCycle",
    "ReferralError",
    "Reward",
    "accrual_key",
    "accrue_due",
    "bind_by_code",
    "bind_recruiter",
    "bind_referrer",
    "chain",
    "change_referrer",
    "list_rewards",
    "promoter_code",
    "promoter_of_code",
    "recruiter_of",
    "referrer_of",
    "share_path",
    "track_orders",
]
