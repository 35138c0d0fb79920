"""Re-deriving the books from the journal alone: pure functions over plain values (entries
already read), and the values a verification reports (``Finding``, ``Report``). ``_checks`` judges
what was found; ``audit`` reads the store and feeds both, never holding more than a page of the
journal and one range of derived figures at a time.

Every re-derived figure is an order-independent sum (booleans are "ever set"), so ``Replay`` can
hand what it has summed so far to the shell at any point (``drain``) and start again from zero:
the shell adds the partial sums up later, one key at a time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jifen.ledger.lots import LotStatus
from jifen.ledger.model import (
    Entry,
)

MAX_FINDINGS = 100
LOT_TERMS = (
    "member_id",
    "merchant_id",
    "order_ref",
    "amount_fen",
    "points",
    "rule_version",
    "value_fen_per_point",
    "paid_at",
    "release_at",
    "expires_at",
)
"""What a stored lot must say exactly as its earn entry did (times as UTC text)."""
LOT_FIGURES = (
    "pending",
    "available",
    "redeemed",
    "expired",
    "refunded_fen",
    "refund_clawed",
    "recovered",
)
TOTALS = ("issued", "redeemed", "expired", "clawed_back", "pending", "available", "outstanding")


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str
    chain_id: int | None = None
    height: int | None = None
    entry_id: str | None = None

    def where(self) -> str:
        parts = []
        if self.chain_id is not None:
            parts.append(f"block {self.chain_id}/{self.height}")
        if self.entry_id is not None:
            parts.append(f"entry {self.entry_id}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class LaneTip:
    """How far one lane was walked: its last block and the entries up to it."""

    height: int
    block_hash: str
    entries: int


@dataclass
class Report:
    hash_alg: str = "sha256"
    blocks: int = 0
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    lanes: dict[int, LaneTip] = field(default_factory=dict)
    checked_blocks: int = 0  # blocks whose hashes were recomputed (all of them unless resumed)
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)


@dataclass
class Derived:
    """Lot figures re-derived from legs alone."""

    pending: int = 0
    available: int = 0
    redeemed: int = 0
    expired: int = 0
    refunded_fen: int = 0
    refund_clawed: int = 0
    recovered: int = 0
    released: bool = False
    expired_entry: bool = False
    reversed: bool = False
    earned: bool = False  # an earn entry with this lot's id was replayed
    terms: dict[str, Any] = field(default_factory=dict)


@dataclass
class Spill:
    """Partial sums handed to the shell, as rows: accounts (account, amount, lot-less amount),
    lots (lot id, the ``LOT_FIGURES``, released, expired, earned, terms JSON, fen per point),
    reversal targets (entry id) and capped entries (entry id, cap key, points, limit)."""

    accounts: list[tuple[str, int, int]]
    lots: list[tuple[Any, ...]]
    targets: list[tuple[str]]
    capped: list[tuple[str, str, int, int | None]]


@dataclass
class Replay:
    """The books re-derived from the journal alone, one entry at a time (order-independent
    sums, so lanes may be walked in any order and the sums drained at any point)."""

    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lots: dict[str, Derived] = field(default_factory=lambda: defaultdict(Derived))
    targets: set[str] = field(default_factory=set)  # ids of reversed entries
    lotless: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    capped: dict[str, tuple[str, int, int | None]] = field(default_factory=dict)

    def apply(self, entry: Entry) -> None:
        derive(entry, self.balances, self.lots, self.targets, self.lotless)
        d = entry.detail
        if d.get("cap") and entry.kind in ("earn", "redeem"):
            limit = d.get("cap_limit_points")
            self.capped[entry.entry_id] = (
                str(d["cap"]),
                int(d["points"]),
                None if limit is None else int(limit),
            )

    def size(self) -> int:
        return len(self.balances) + len(self.lots) + len(self.targets) + len(self.capped)

    def drain(self) -> Spill:
        """What was summed so far, as rows; the replay starts again from zero."""
        spill = Spill(
            accounts=[(a, n, self.lotless.get(a, 0)) for a, n in self.balances.items()],
            lots=[_lot_row(lot_id, lot) for lot_id, lot in self.lots.items()],
            targets=[(entry_id,) for entry_id in self.targets],
            capped=[(entry_id, *cap) for entry_id, cap in self.capped.items()],
        )
        self.balances.clear()
        self.lots.clear()
        self.targets.clear()
        self.lotless.clear()
        self.capped.clear()
        return spill


def _lot_row(lot_id: str, lot: Derived) -> tuple[Any, ...]:
    terms = json.dumps(lot.terms, sort_keys=True) if lot.terms else None
    value = int(lot.terms.get("value_fen_per_point") or 0) if lot.terms else 0
    figures = tuple(getattr(lot, f) for f in LOT_FIGURES)
    return (lot_id, *figures, lot.released, lot.expired_entry, lot.earned, terms, value)


def derive(
    entry: Entry,
    balances: dict[str, int],
    lots: dict[str, Derived],
    targets: set[str],
    lotless: dict[str, int],
) -> None:
    """Replay one entry's effect on balances and lot figures (order-independent sums)."""
    d = entry.detail
    own = str(d.get("lot_id", ""))
    for leg in entry.legs:
        balances[leg.account] += leg.amount
        if leg.lot_id is None and leg.account.startswith("member:"):
            lotless[leg.account] += leg.amount  # debt taken and repaid: never above zero
        if leg.lot_id is None:
            continue
        lot = lots[leg.lot_id]
        if leg.account.endswith(":pending"):
            lot.pending += leg.amount
        else:
            lot.available += leg.amount
            if (
                entry.kind == "redeem"
                or (entry.kind == "refund" and leg.lot_id != own)
                or entry.kind == "reverse"
            ):
                lot.redeemed -= leg.amount
            elif entry.kind == "expire":
                lot.expired -= leg.amount
        if entry.kind == "expire" and leg.account.endswith(":pending"):
            lot.expired -= leg.amount
    if entry.kind == "earn":
        lots[entry.entry_id].terms = dict(d)
        lots[entry.entry_id].earned = True
    elif entry.kind == "release":
        lots[own].released = True
        lots[own].redeemed += d["debt_repaid"]
    elif entry.kind == "expire":
        lots[own].expired_entry = True
    elif entry.kind == "refund":
        lot = lots[own]
        lot.refunded_fen += d["refund_fen"]
        lot.refund_clawed += d["clawback_points"]
        lot.recovered += d["recovered_points"]
    elif entry.kind == "reverse":
        targets.add(d["reverses"])


def lot_status(lot: Derived) -> LotStatus:
    if lot.reversed:
        return LotStatus.REVERSED
    if lot.expired_entry:
        return LotStatus.EXPIRED
    if lot.released:
        return LotStatus.RELEASED
    return LotStatus.PENDING if lot.pending else LotStatus.VOIDED
