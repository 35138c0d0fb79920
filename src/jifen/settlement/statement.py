"""Partner billing, pure (brief §4): a merchant's day of movements → its statement.

A merchant's money account is credited and debited by the flows themselves (the issue price at
each earn, the value of points it accepted at each redemption, the value of points clawed back
from its refunded orders). The statement only groups that day's movements by what caused them,
so by construction it matches the ledger to the fen.

Money the provider moved is on the statement too: the charges collected by split at payment
(``collected_fen``: the merchant paid them already) and the value returned to the merchant by a
split return before a refund (``returned_fen``: the credit was paid already). What is left, the
net, is what the daily settlement pays out (or carries, when the merchant owes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Movement:
    """Money (fen, + = to the merchant) or points on one merchant account, summed by entry kind."""

    merchant_id: str
    kind: str  # earn | redeem | void | refund | reverse | post | collect | split_return
    fen: int = 0
    points_issued: int = 0
    points_accepted: int = 0


@dataclass(frozen=True)
class Statement:
    merchant_id: str
    business_date: date
    points_issued: int
    charges_fen: int  # the issue price of points issued (the merchant pays)
    points_accepted: int
    reimbursements_fen: int  # the value of points accepted (the merchant receives)
    credits_fen: int  # the value of points clawed back from refunded or cancelled orders
    adjustments_fen: int  # corrections (reversals, manual entries), either sign
    net_fen: int  # + the operator pays the merchant; - the merchant pays the operator
    entry_id: str | None = None
    collected_fen: int = 0  # charges the provider's split collected (already paid)
    returned_fen: int = 0  # credits a split return paid back (already paid)


def statement(merchant_id: str, day: date, movements: Iterable[Movement]) -> Statement:
    charges = reimbursed = credits = adjustments = issued = accepted = 0
    collected = returned = 0
    for m in movements:
        assert m.merchant_id == merchant_id
        issued += m.points_issued
        accepted += m.points_accepted
        if m.kind == "earn":
            charges -= m.fen
        elif m.kind == "redeem":
            reimbursed += m.fen
        elif m.kind in ("void", "refund"):
            credits += m.fen
        elif m.kind == "collect":
            collected += m.fen
        elif m.kind == "split_return":
            returned -= m.fen
        else:
            adjustments += m.fen
    return Statement(
        merchant_id=merchant_id,
        business_date=day,
        points_issued=issued,
        charges_fen=charges,
        points_accepted=accepted,
        reimbursements_fen=reimbursed,
        credits_fen=credits,
        adjustments_fen=adjustments,
        net_fen=reimbursed + credits + adjustments + collected - charges - returned,
        collected_fen=collected,
        returned_fen=returned,
    )


@dataclass(frozen=True)
class ReserveStatus:
    """The reserve against what it must cover: outstanding funded points at their value."""

    reserve_fen: int
    outstanding_points: int
    liability_fen: int

    @property
    def covered(self) -> bool:
        return self.reserve_fen >= self.liability_fen

    @property
    def coverage_bp(self) -> int | None:
        """reserve ÷ liability in basis points, ROUND_DOWN (10000 = fully covered)."""
        if self.liability_fen == 0:
            return None
        return self.reserve_fen * 10_000 // self.liability_fen


def coverage_text(status: ReserveStatus) -> str:
    bp = status.coverage_bp
    return "—" if bp is None else f"{bp // 100}.{bp % 100:02d}%"


@dataclass(frozen=True)
class ExpiryBucket:
    month: str  # YYYY-MM (Asia/Shanghai) or "never"
    points: int
    value_fen: int


@dataclass(frozen=True)
class LiabilityReport:
    outstanding_points: int
    value_fen: int
    by_expiry_month: list[ExpiryBucket]
    breakage_rate_bp: int  # historical: expired ÷ (expired + redeemed), ROUND_DOWN
    estimated_breakage_points: int  # outstanding × that rate, ROUND_DOWN
    estimated_breakage_fen: int
    reserve: ReserveStatus


def breakage_rate_bp(expired_points: int, redeemed_points: int) -> int:
    """What share of points that left circulation by spending or expiring expired: the simplest
    estimator an auditor can recompute. 0 with no history (no breakage is promised)."""
    total = expired_points + redeemed_points
    return 0 if total == 0 else expired_points * 10_000 // total
