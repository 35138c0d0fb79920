"""What a referred order earns its promoters (brief §8): shares of a real purchase, pure.

An order earns at most three shares: its buyer's referrer (``direct``), at depth 2 that
referrer's referrer (``indirect``), and the recruiter of the merchant it was paid at
(``recruiter``), while the merchant's recruitment is younger than ``recruiter_months``. Each share
is basis points of what is left of the order at the end of its return window (``basis_fen``: paid
minus refunded), so a refund inside the window reverses its part of the reward.

Nothing here counts people: a share is computed from one order's amount only (PYR-2 forbids pay on
the number recruited). A promoter never earns on their own purchase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from jifen.rules import ReferralRules

REWARD_ROUNDING = "down to the fen"
"""A share of an order is rounded down to the whole fen (¥99.99 × 0.30% = 29.997 fen → 29 fen):
each share is its own amount, not a part of a fixed total, so there is no remainder to allocate,
and rounding down never promises a promoter more than the rule's share."""

Kind = Literal["direct", "indirect", "recruiter"]
BP = 10_000


@dataclass(frozen=True)
class Share:
    promoter_id: str
    kind: Kind
    share_bp: int


def add_months(at: datetime, months: int) -> datetime:
    """The same instant ``months`` calendar months later, on the month's last day if shorter
    (2026-01-31 + 1 month = 2026-02-28)."""
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    last = (datetime(year + month // 12, month % 12 + 1, 1) - datetime(year, month, 1)).days
    return at.replace(year=year, month=month, day=min(at.day, last))


def order_shares(
    terms: ReferralRules,
    *,
    buyer_id: str,
    referrers: Sequence[str],
    recruiter: tuple[str, datetime] | None,
    paid_at: datetime,
) -> list[Share]:
    """The shares one paid order carries under ``terms`` (the version in force at payment).

    ``referrers``: the buyer's referrer, then that referrer's referrer (the graph's chain upward;
    anything beyond ``terms.depth`` is ignored). ``recruiter``: the paying merchant's recruiter and
    when they were bound, if any."""
    shares: list[Share] = []
    levels: tuple[tuple[Kind, int], ...] = (("direct", terms.direct_bp),)
    if terms.depth >= 2:
        levels += (("indirect", terms.indirect_bp),)
    for (kind, bp), promoter in zip(levels, referrers, strict=False):
        if bp and promoter != buyer_id:
            shares.append(Share(promoter, kind, bp))
    if recruiter is not None and terms.recruiter_bp:
        promoter, since = recruiter
        if since <= paid_at < add_months(since, terms.recruiter_months) and promoter != buyer_id:
            shares.append(Share(promoter, "recruiter", terms.recruiter_bp))
    return shares


def reward_fen(basis_fen: int, share_bp: int) -> int:
    """``share_bp`` of ``basis_fen``, rounded by ``REWARD_ROUNDING``."""
    if basis_fen < 0 or share_bp < 0:
        raise ValueError("basis and share are never negative")
    return basis_fen * share_bp // BP


def capped(fen: int, accrued_this_month_fen: int, cap_fen: int | None) -> tuple[int, int]:
    """A reward under the promoter's monthly cap: (what accrues, what the cap took off).

    Rewards accrue in the order their windows end; the one that crosses the cap accrues the rest
    of the month's room and later ones accrue nothing that month."""
    if cap_fen is None:
        return fen, 0
    room = max(cap_fen - accrued_this_month_fen, 0)
    kept = min(fen, room)
    return kept, fen - kept
