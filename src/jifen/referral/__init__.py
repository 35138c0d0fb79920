"""Referral rewards and their payouts, the pure part (brief §8): ``rewards``, the shares of a
real purchase an order carries and their amounts; ``tax``, the individual income tax withheld
from a payee's 劳务报酬. Pure functions over integer fen; the store half is ``jifen.promoters``."""

from __future__ import annotations

from jifen.referral.rewards import (
    REWARD_ROUNDING,
    Share,
    add_months,
    capped,
    order_shares,
    reward_fen,
)
from jifen.referral.tax import (
    CUMULATIVE_BRACKETS,
    PER_PAYMENT_BRACKETS,
    ROUNDING,
    CumulativeMonth,
    Withholding,
    cumulative,
    per_payment,
    per_payment_month,
)

__all__ = [
    "CUMULATIVE_BRACKETS",
    "PER_PAYMENT_BRACKETS",
    "REWARD_ROUNDING",
    "ROUNDING",
    "CumulativeMonth",
    "Share",
    "Withholding",
    "add_months",
    "capped",
    "cumulative",
    "order_shares",
    "per_payment",
    "per_payment_month",
    "reward_fen",
]
