"""A plain, in-memory reference model of the points ledger, written from the rules alone.

It imports nothing from ``jifen``: the stateful tests (test_ledger_stateful.py) run it side by side
with the real ``Ledger`` and compare. The rules it encodes (brief §5, docs/ledger.md):

- an earn makes a lot of pending points; ``release`` (not before ``release_at``) makes them
  available, repaying the member's debt first; ``void`` cancels a pending lot;
- spending draws from released lots: earliest expiry first (no expiry last), then oldest paid,
  then lot id;
- a refund claws back ``floor(points × refunded_after ÷ amount) − floor(points × refunded_before
  ÷ amount)``: first from the order's own lot (pending or available), then — up to what was spent
  of this order and not yet recovered, and never less than nothing — from the member's other
  available lots in spending order, and what is still missing is a shortfall: dropped
  (``deduct_from_refund``: the cash refund pays for it) or recorded as debt (``record_debt``);
  the rest of the claw had expired already and is not taken twice;
- ``expire`` (not before ``expires_at``) burns whatever is left of a pending or released lot;
- ``reverse`` undoes a redemption (all its lots still released, and no refund having settled the
  points it spent) or an earn still wholly pending;
- a key is bound to its body: same body → the first result again, another body → conflict.

Operations are submitted as ``(key, kind, fields)`` with the public operation's field names. A
refused operation raises ``Refused`` with the ledger's stable error code and changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PENDING, RELEASED, VOIDED, EXPIRED, REVERSED = (
    "pending",
    "released",
    "voided",
    "expired",
    "reversed",
)


class Refused(Exception):
    def __init__(self, code: str, why: str = "") -> None:
        super().__init__(f"{code}: {why}" if why else code)
        self.code = code


def entry_id_for(key: str) -> str:
    """As documented in docs/ledger.md: ``sha256("jifen-entry\\0" + key)[:32]``."""
    return hashlib.sha256(b"jifen-entry\x00" + key.encode()).hexdigest()[:32]


@dataclass
class MLot:
    lot_id: str
    member: str
    merchant: str
    amount_fen: int
    points: int
    paid_at: datetime
    release_at: datetime
    expires_at: datetime | None
    status: str = PENDING
    pending: int = 0
    available: int = 0
    spent: int = 0  # left the lot for a redemption, a debt repayment or another order's refund
    expired: int = 0
    refunded_fen: int = 0
    clawed: int = 0  # points the refunds so far attribute to this order
    recovered: int = 0  # of those, the ones that had been spent (taken elsewhere or shortfall)


@dataclass
class Written:
    """An entry the model holds, found again by its key."""

    key: str
    entry_id: str
    kind: str
    body: tuple[Any, ...]
    detail: dict[str, Any]
    draws: list[tuple[str, int]] = field(default_factory=list)  # redeem: (lot, points)
    merchant: str = ""
    points: int = 0
    reversed: bool = False


@dataclass
class Outcome:
    entry_id: str
    kind: str
    replayed: bool
    detail: dict[str, Any]
    target: str = ""  # reverse: the kind of entry it reversed


def spend_order(lot: MLot) -> tuple[Any, ...]:
    if lot.expires_at is None:
        return (1, lot.paid_at, lot.lot_id)
    return (0, lot.expires_at, lot.paid_at, lot.lot_id)


class Model:
    def __init__(self, merchants: Sequence[str]) -> None:
        self.merchants = set(merchants)
        self.members: set[str] = set()  # members whose accounts exist (they earned once)
        self.lots: dict[str, MLot] = {}
        self.debt: dict[str, int] = {}
        self.accepted: dict[str, int] = dict.fromkeys(merchants, 0)
        self.issued = 0
        self.expired = 0
        self.clawed_back = 0
        self.entries: dict[str, Written] = {}  # by key
        self.by_id: dict[str, Written] = {}

    # -- views -----------------------------------------------------------------------------------

    def member_view(self, member: str) -> tuple[int, int, int]:
        """(available balance, pending balance, debt); the balance is lots minus debt."""
        mine = [lot for lot in self.lots.values() if lot.member == member]
        debt = self.debt.get(member, 0)
        return sum(lot.available for lot in mine) - debt, sum(lot.pending for lot in mine), debt

    def lot_view(self, lot_id: str) -> dict[str, Any]:
        lot = self.lots[lot_id]
        return {
            "status": lot.status,
            "pending": lot.pending,
            "available": lot.available,
            "redeemed": lot.spent,
            "expired": lot.expired,
            "refunded_fen": lot.refunded_fen,
            "refund_clawed": lot.clawed,
            "recovered": lot.recovered,
        }

    def totals(self) -> dict[str, int]:
        pending = sum(lot.pending for lot in self.lots.values())
        available = sum(lot.available for lot in self.lots.values()) - sum(self.debt.values())
        return {
            "issued": self.issued,
            "redeemed": sum(self.accepted.values()),
            "expired": self.expired,
            "clawed_back": self.clawed_back,
            "pending": pending,
            "available": available,
            "outstanding": pending + available,
        }

    def due_releases(self, now: datetime) -> list[str]:
        return [
            i
            for i, lot in self.lots.items()
            if lot.status == PENDING and lot.release_at <= now and not _expired(lot, now)
        ]

    def due_expiries(self, now: datetime) -> list[str]:
        return [
            i
            for i, lot in self.lots.items()
            if lot.status in (PENDING, RELEASED)
            and lot.expires_at is not None
            and lot.expires_at <= now
            and (lot.pending or lot.available)
        ]

    # -- submitting ------------------------------------------------------------------------------

    def submit(
        self, ops: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
    ) -> list[Outcome]:
        """Apply a batch atomically, the way the ledger orders its checks."""
        first: dict[str, tuple[Any, ...]] = {}
        for key, kind, fields in ops:  # the same key twice in one batch must carry one body
            body = _body(kind, fields)
            if first.setdefault(key, body) != body:
                raise Refused("idempotency.conflict", f"{key} twice in one batch")
        for key, body in first.items():  # a stored key must carry its stored body
            if key in self.entries and self.entries[key].body != body:
                raise Refused("idempotency.conflict", f"{key} was stored with another body")
        saved = copy.deepcopy(self.__dict__)
        results: dict[str, Outcome] = {}
        try:
            for key, kind, fields in ops:
                if key in results:
                    continue
                if key in self.entries:
                    w = self.entries[key]
                    results[key] = Outcome(w.entry_id, w.kind, True, w.detail)
                    continue
                w = getattr(self, f"_{kind}")(key, now, **fields)
                w.body = _body(kind, fields)
                self.entries[key] = w
                self.by_id[w.entry_id] = w
                target = self.by_id[fields["entry_id"]].kind if kind == "reverse" else ""
                results[key] = Outcome(w.entry_id, w.kind, False, w.detail, target)
        except Refused:
            self.__dict__.update(saved)
            raise
        return [results[key] for key, _, _ in ops]

    # -- operations: check everything first, then change ----------------------------------------

    def _lot(self, lot_id: str) -> MLot:
        if lot_id not in self.lots:
            raise Refused("lot.not_found", lot_id)
        return self.lots[lot_id]

    def _draw(self, member: str, now: datetime, *, besides: str | None = None) -> list[MLot]:
        """Lots that can give points at ``now``: released, not empty, not expired (expired means
        unusable from the instant of expiry, before the expiry job burns what is left)."""
        return sorted(
            (
                lot
                for lot in self.lots.values()
                if lot.member == member
                and lot.lot_id != besides
                and lot.status == RELEASED
                and lot.available > 0
                and not _expired(lot, now)
            ),
            key=spend_order,
        )

    def _earn(
        self,
        key: str,
        now: datetime,
        *,
        member_id: str,
        merchant_id: str,
        order_ref: str,
        amount_fen: int,
        points: int,
        rule_version: int,
        paid_at: datetime,
        release_at: datetime,
        expires_at: datetime | None,
        charge_fen: int = 0,  # money is checked by the flow tests, not this model
        value_fen_per_point: int = 0,
        cap: Any = None,  # caps are checked by the cap tests, not this model
    ) -> Written:
        if merchant_id not in self.merchants:
            raise Refused("account.not_found", merchant_id)
        lot_id = entry_id_for(key)
        self.lots[lot_id] = MLot(
            lot_id,
            member_id,
            merchant_id,
            amount_fen,
            points,
            paid_at,
            release_at,
            expires_at,
            pending=points,
        )
        self.members.add(member_id)
        self.debt.setdefault(member_id, 0)
        self.issued += points
        return Written(key, lot_id, "earn", (), {"lot_id": lot_id, "points": points})

    def _release(self, key: str, now: datetime, *, lot_id: str) -> Written:
        lot = self._lot(lot_id)
        if lot.status != PENDING:
            raise Refused("lot.invalid_state", lot.status)
        if now < lot.release_at:
            raise Refused("lot.not_due", "return window open")
        if _expired(lot, now):
            raise Refused("lot.invalid_state", "expired before release")
        points = lot.pending
        repay = min(self.debt[lot.member], points)
        self.debt[lot.member] -= repay
        lot.pending, lot.available, lot.status = 0, points - repay, RELEASED
        lot.spent += repay
        detail = {"lot_id": lot_id, "points": points, "debt_repaid": repay}
        return Written(key, entry_id_for(key), "release", (), detail)

    def _void(self, key: str, now: datetime, *, lot_id: str) -> Written:
        lot = self._lot(lot_id)
        if lot.status != PENDING:
            raise Refused("lot.invalid_state", lot.status)
        if _expired(lot, now):
            raise Refused("lot.invalid_state", "expired")
        points = lot.pending
        lot.pending, lot.status = 0, VOIDED
        self.clawed_back += points
        return Written(key, entry_id_for(key), "void", (), {"lot_id": lot_id, "points": points})

    def _expire(self, key: str, now: datetime, *, lot_id: str) -> Written:
        lot = self._lot(lot_id)
        if lot.expires_at is None or now < lot.expires_at:
            raise Refused("lot.not_due", "not expired yet")
        if lot.status not in (PENDING, RELEASED) or not (lot.pending or lot.available):
            raise Refused("lot.invalid_state", "nothing left")
        points = lot.pending + lot.available
        lot.pending = lot.available = 0
        lot.expired += points
        lot.status = EXPIRED
        self.expired += points
        return Written(key, entry_id_for(key), "expire", (), {"lot_id": lot_id, "points": points})

    def _redeem(
        self,
        key: str,
        now: datetime,
        *,
        member_id: str,
        merchant_id: str,
        points: int,
        order_ref: str,
        order_amount_fen: int | None = None,
        rule_version: int | None = None,
        cap: Any = None,
    ) -> Written:
        if merchant_id not in self.merchants:
            raise Refused("account.not_found", merchant_id)
        if member_id not in self.members:
            raise Refused("points.insufficient", f"{member_id} never earned")
        balance = self.member_view(member_id)[0]
        lots = self._draw(member_id, now)
        if points > min(balance, sum(lot.available for lot in lots)):
            raise Refused("points.insufficient", f"{points} > {balance}")
        draws, left = [], points
        for lot in lots:
            if not left:
                break
            take = min(left, lot.available)
            lot.available -= take
            lot.spent += take
            draws.append((lot.lot_id, take))
            left -= take
        self.accepted[merchant_id] += points
        detail = {"points": points, "lots": [list(d) for d in draws]}
        return Written(key, entry_id_for(key), "redeem", (), detail, draws, merchant_id, points)

    def _refund(
        self, key: str, now: datetime, *, lot_id: str, refund_fen: int, shortfall: Any
    ) -> Written:
        lot = self._lot(lot_id)
        if lot.status == REVERSED:
            raise Refused("lot.invalid_state", "reversed")
        if lot.refunded_fen + refund_fen > lot.amount_fen:
            raise Refused("refund.exceeds_order")
        before, after = lot.refunded_fen, lot.refunded_fen + refund_fen
        claw = (lot.points * after) // lot.amount_fen - (lot.points * before) // lot.amount_fen
        if _expired(lot, now):
            own = 0  # the order's own points expired: nothing of them is left to take
        elif lot.status == PENDING:
            own = min(claw, lot.pending)
            lot.pending -= own
            if lot.pending == 0:
                lot.status = VOIDED
        else:
            own = min(claw, lot.available)
            lot.available -= own
        # what is left to claw was spent (recover it) or had expired (gone already); never
        # less than nothing, even after a reversed redemption gave spent points back
        recover = max(0, min(claw - own, lot.spent - lot.recovered))
        from_others, left = 0, recover
        for other in self._draw(lot.member, now, besides=lot_id):
            if left <= 0:
                break
            take = min(left, other.available)
            other.available -= take
            other.spent += take
            from_others += take
            left -= take
        short = recover - from_others
        debt = short if str(getattr(shortfall, "value", shortfall)) == "record_debt" else 0
        self.debt[lot.member] += debt
        self.clawed_back += own + from_others + debt
        lot.refunded_fen = after
        lot.clawed += claw
        lot.recovered += recover
        detail = {
            "lot_id": lot_id,
            "clawback_points": claw,
            "from_lot": own,
            "recovered_points": recover,
            "from_other_lots": from_others,
            "shortfall_points": short,
            "debt_points": debt,
            "already_gone_points": claw - own - recover,
        }
        return Written(key, entry_id_for(key), "refund", (), detail)

    def _reverse(self, key: str, now: datetime, *, entry_id: str, reason: str) -> Written:
        target = self.by_id.get(entry_id)
        if target is None:
            raise Refused("entry.not_found", entry_id)
        if target.reversed:
            raise Refused("entry.not_reversible", "already reversed")
        if target.kind == "earn":
            lot = self.lots[entry_id]
            if lot.status != PENDING or lot.pending != lot.points:
                raise Refused("entry.not_reversible", "earn no longer wholly pending")
            self.issued -= lot.pending
            lot.pending, lot.status = 0, REVERSED
        elif target.kind == "redeem":
            if any(self.lots[i].status != RELEASED for i, _ in target.draws):
                raise Refused("entry.not_reversible", "a lot it drew from is closed")
            if any(self.lots[i].spent - take < self.lots[i].recovered for i, take in target.draws):
                # a refund of the order already settled these spent points (docs/ledger.md)
                raise Refused("entry.not_reversible", "a refund already settled these points")
            if self.accepted[target.merchant] < target.points:
                raise Refused("points.insufficient", "merchant would go negative")
            for i, take in target.draws:
                self.lots[i].available += take
                self.lots[i].spent -= take
            self.accepted[target.merchant] -= target.points
        else:
            raise Refused("entry.not_reversible", target.kind)
        target.reversed = True
        return Written(key, entry_id_for(key), "reverse", (), {"reverses": entry_id})


def _expired(lot: MLot, now: datetime) -> bool:
    return lot.expires_at is not None and now >= lot.expires_at


def _body(kind: str, fields: dict[str, Any]) -> tuple[Any, ...]:
    return (kind, *sorted((k, str(getattr(v, "value", v))) for k, v in fields.items()))
