"""Lots: the points of one order, with their own terms. Pure rules about them.

Spending draws from the lot that expires first, then the oldest (brief §5). Refunds claw back
pro rata by amount with the *cumulative* rule below, so a series of partial refunds that adds up
to the whole order claws back exactly all of its points, never one more or one fewer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


class LotStatus(enum.StrEnum):
    PENDING = "pending"  # in the return window
    RELEASED = "released"  # spendable
    VOIDED = "voided"  # cancelled or fully refunded before release
    EXPIRED = "expired"
    REVERSED = "reversed"  # the earn entry was reversed by a correction


@dataclass(slots=True)
class Lot:
    """A lot's terms (fixed at issue) and its running figures (derived from the journal)."""

    lot_id: str
    member_id: str
    merchant_id: str
    order_ref: str
    amount_fen: int
    points: int
    rule_version: int
    paid_at: datetime
    release_at: datetime
    expires_at: datetime | None
    status: LotStatus = LotStatus.PENDING
    pending: int = 0
    available: int = 0
    redeemed: int = 0  # drawn by redemptions (net of reversed redemptions)
    expired: int = 0
    refunded_fen: int = 0  # cumulative refunded order amount
    refund_clawed: int = 0  # points the refunds so far attribute to this order
    recovered: int = 0  # of those, points taken from elsewhere or left as shortfall
    value_fen_per_point: int = 0  # what backs each point in the reserve (0: an unfunded lot)

    def value_fen(self, points: int) -> int:
        """The reserve money behind ``points`` of this lot: exact, the value is whole fen."""
        return points * self.value_fen_per_point


def spend_order(lot: Lot) -> tuple[bool, datetime, datetime, str]:
    """Sort key for spending: earliest expiry first (no expiry last), then oldest, then id."""
    far = lot.expires_at or lot.paid_at
    return (lot.expires_at is None, far, lot.paid_at, lot.lot_id)


def expired_at(lot: Lot, now: datetime) -> bool:
    """Expired means unusable from the instant it expires, whether or not the expiry job has burnt
    what is left yet: nothing may be spent, released or clawed back from it after ``expires_at``."""
    return lot.expires_at is not None and now >= lot.expires_at


def draw(lots: Iterable[Lot], points: int, now: datetime) -> list[tuple[Lot, int]]:
    """Which lots give how many points at ``now``, in spending order; may return less than asked.
    Only released lots that have not expired at ``now`` give points."""
    plan: list[tuple[Lot, int]] = []
    left = points
    for lot in sorted(
        (
            lot
            for lot in lots
            if lot.status is LotStatus.RELEASED and lot.available > 0 and not expired_at(lot, now)
        ),
        key=spend_order,
    ):
        if left == 0:
            break
        take = min(left, lot.available)
        plan.append((lot, take))
        left -= take
    return plan


def prorata_clawback(
    points: int, amount_fen: int, refunded_before_fen: int, refund_fen: int
) -> int:
    """Points to claw back for this refund: ROUND_DOWN on the cumulative share (member's favour).

    clawed_total(r) = floor(points × r ÷ amount); this refund claws clawed_total(after) −
    clawed_total(before). Summed over refunds that total the whole amount it is exactly ``points``.
    """
    after = refunded_before_fen + refund_fen
    assert 0 <= refunded_before_fen <= after <= amount_fen, "refund beyond order amount"
    return points * after // amount_fen - points * refunded_before_fen // amount_fen
