"""Referral rewards and their payouts (issue 14). So far: ``tax``, the individual income tax
withheld from a payee's 劳务报酬 (pure functions over integer fen)."""

from __future__ import annotations

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
    "ROUNDING",
    "CumulativeMonth",
    "Withholding",
    "cumulative",
    "per_payment",
    "per_payment_month",
]
