"""Re-deriving the books from the journal alone, and judging what was found: pure functions over
plain values (entries, block rows already read), so each check is a rule an auditor can name and
a unit test can drive. ``audit`` reads the store and feeds them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jifen.ledger import chain
from jifen.ledger.lots import LotStatus
from jifen.ledger.model import (
    CLAWBACK,
    EXPIRED,
    ISSUANCE,
    MAX_LEGS,
    RESERVE,
    AccountKind,
    Asset,
    Entry,
    member_account_kind,
)

MAX_FINDINGS = 100


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


@dataclass
class Report:
    hash_alg: str = "sha256"
    blocks: int = 0
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

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
    terms: dict[str, Any] = field(default_factory=dict)


def check_block(
    report: Report, block: Any, entries: list[tuple[Any, Entry]], where: dict[str, Any]
) -> None:
    if block.entry_count != len(entries):
        report.add(
            Finding(
                "block.entry_count",
                f"block says {block.entry_count} entries, the journal holds {len(entries)}",
                **where,
            )
        )
    recomputed = chain.block_hash(
        block.hash_alg,
        chain_id=block.chain_id,
        height=block.height,
        prev_hash=block.prev_hash,
        committed_at=block.committed_at,
        entry_hashes=[row.entry_hash for row, _ in entries],
    )
    if recomputed != block.block_hash:
        report.add(
            Finding(
                "block.hash_mismatch",
                "block hash does not match its entries and predecessor",
                **where,
                entry_id=entries[0][1].entry_id if entries else None,
            )
        )


def check_lotless(report: Report, lotless: dict[str, int]) -> None:
    for account, amount in sorted(lotless.items()):
        if amount > 0:
            report.add(
                Finding(
                    "balance.points_without_lot",
                    f"{account} holds {amount} "
                    "points that belong to no lot (more debt repaid than owed)",
                )
            )


def tip_difference(tip_height: int, tip_hash: str, last_height: int, last_hash: str) -> str:
    """Say what differs between a lane's tip and its last block: the height, the hash, or both."""
    differ = []
    if tip_height != last_height:
        differ.append(f"height {tip_height} but the last block is {last_height}")
    if tip_hash != last_hash:
        differ.append(f"hash {tip_hash} but the last block's is {last_hash}")
    return "lane tip says " + "; ".join(differ)


def check_reserve(report: Report, balances: dict[str, int], lots: dict[str, Derived]) -> None:
    """brief §4: the reserve covers every outstanding point at the value it was issued with."""
    liability = sum(
        (lot.pending + lot.available) * int(lot.terms.get("value_fen_per_point") or 0)
        for lot in lots.values()
        if not lot.reversed
    )
    reserve = balances.get(RESERVE, 0)
    report.totals["reserve_fen"], report.totals["liability_fen"] = reserve, liability
    if reserve < liability:
        report.add(
            Finding(
                "reserve.short",
                f"reserve {reserve} fen < outstanding points' value {liability} fen",
            )
        )


def check_entry(
    report: Report, kinds: dict[str, Any], block: Any, row: Any, entry: Entry, where: dict[str, Any]
) -> None:
    here = {**where, "entry_id": entry.entry_id}
    if chain.entry_hash(block.hash_alg, entry) != row.entry_hash:
        report.add(Finding("entry.hash_mismatch", "entry content does not match its hash", **here))
    if chain.entry_id_for(entry.key) != entry.entry_id:
        report.add(Finding("entry.id_mismatch", "entry id does not derive from its key", **here))
    if (row.reverses or None) != (
        entry.detail.get("reverses") if entry.kind == "reverse" else None
    ):
        report.add(
            Finding("entry.reverses_mismatch", "reverses column disagrees with the entry", **here)
        )
    totals: dict[str, int] = defaultdict(int)
    for leg in entry.legs:
        totals[leg.asset.value] += leg.amount
        known = kinds.get(leg.account) or member_account_kind(leg.account)
        if known is None:
            report.add(
                Finding("leg.unknown_account", f"leg names unknown account {leg.account}", **here)
            )
        elif known[1] is not leg.asset:
            report.add(
                Finding("leg.asset_mismatch", f"{leg.account} holds {known[1].value}", **here)
            )
        if leg.amount == 0:
            report.add(Finding("leg.zero", "leg moves nothing", **here))
    if any(totals.values()):
        report.add(Finding("entry.unbalanced", f"legs sum to {dict(totals)}", **here))
    if len(entry.legs) == 1 or (not entry.legs and entry.kind != "refund"):
        report.add(
            Finding("entry.legs", f"a {entry.kind} entry has {len(entry.legs)} legs", **here)
        )
    if entry.kind == "post" and len(entry.legs) > MAX_LEGS:
        report.add(Finding("entry.legs", "manual entry over the leg limit", **here))


@dataclass
class Replay:
    """The books re-derived from the journal alone, one entry at a time (order-independent
    sums, so lanes may be walked in any order)."""

    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lots: dict[str, Derived] = field(default_factory=lambda: defaultdict(Derived))
    reversals: dict[str, Entry] = field(default_factory=dict)  # reversed id → its reversal
    earns: dict[str, Entry] = field(default_factory=dict)
    lotless: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    capped: dict[str, tuple[str, Entry]] = field(default_factory=dict)  # entry id → its cap

    def apply(self, entry: Entry) -> None:
        derive(entry, self.balances, self.lots, self.reversals, self.earns, self.lotless)
        if entry.detail.get("cap") and entry.kind in ("earn", "redeem"):
            self.capped[entry.entry_id] = (str(entry.detail["cap"]), entry)

    def close_reversed_lots(self) -> None:
        for lot_id in self.reversals:  # reversing an earn closes its lot
            if lot_id in self.earns:
                self.lots[lot_id].reversed = True


def derive(
    entry: Entry,
    balances: dict[str, int],
    lots: dict[str, Derived],
    reversals: dict[str, Entry],
    earns: dict[str, Entry],
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
        earns[entry.entry_id] = entry
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
        reversals[d["reverses"]] = entry


def lot_status(lot: Derived) -> LotStatus:
    if lot.reversed:
        return LotStatus.REVERSED
    if lot.expired_entry:
        return LotStatus.EXPIRED
    if lot.released:
        return LotStatus.RELEASED
    return LotStatus.PENDING if lot.pending else LotStatus.VOIDED


def point_totals(report: Report, balances: dict[str, int], kinds: dict[str, Any]) -> dict[str, int]:
    """issued = redeemed + expired + clawed back + outstanding (brief §5), from the journal."""
    by_kind: dict[AccountKind, int] = defaultdict(int)
    for account, amount in balances.items():
        kind = kinds.get(account) or member_account_kind(account)
        if kind and kind[1] is Asset.POINTS:
            by_kind[kind[0]] += amount
    totals = {
        "issued": -balances.get(ISSUANCE, 0),
        "redeemed": by_kind[AccountKind.MERCHANT_ACCEPTED],
        "expired": balances.get(EXPIRED, 0),
        "clawed_back": balances.get(CLAWBACK, 0),
        "pending": by_kind[AccountKind.MEMBER_PENDING],
        "available": by_kind[AccountKind.MEMBER_AVAILABLE],
    }
    totals["outstanding"] = totals["pending"] + totals["available"]
    accounted = (
        totals["redeemed"] + totals["expired"] + totals["clawed_back"] + totals["outstanding"]
    )
    if totals["issued"] != accounted:
        report.add(
            Finding(
                "invariant.issued",
                f"issued {totals['issued']} ≠ redeemed + expired + "
                f"clawed back + outstanding = {accounted}",
            )
        )
    return totals
