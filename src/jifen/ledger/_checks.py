"""The rules ``jifen verify`` judges by: pure functions over one block, one entry, one cache row
against its re-derived twin, or a few running sums. Each returns or adds ``Finding``s with the
codes docs/ledger.md lists; ``audit`` decides what to feed them and in which order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jifen.ledger import chain
from jifen.ledger._rederive import LOT_FIGURES, Derived, Finding, Report, lot_status
from jifen.ledger.model import (
    CLAWBACK,
    EXPIRED,
    ISSUANCE,
    MAX_LEGS,
    AccountKind,
    Asset,
    Entry,
    member_account_kind,
    owner_of,
)


def check_block(
    report: Report,
    block: Any,
    entries: list[tuple[Any, Entry]],
    where: dict[str, Any],
    *,
    rehash: bool = True,
) -> None:
    if block.entry_count != len(entries):
        report.add(
            Finding(
                "block.entry_count",
                f"block says {block.entry_count} entries, the journal holds {len(entries)}",
                **where,
            )
        )
    if not rehash:
        return
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


def tip_difference(tip_height: int, tip_hash: str, last_height: int, last_hash: str) -> str:
    """Say what differs between a lane's tip and its last block: the height, the hash, or both."""
    differ = []
    if tip_height != last_height:
        differ.append(f"height {tip_height} but the last block is {last_height}")
    if tip_hash != last_hash:
        differ.append(f"hash {tip_hash} but the last block's is {last_hash}")
    return "lane tip says " + "; ".join(differ)


def check_entry(
    report: Report,
    kinds: dict[str, Any],
    block: Any,
    row: Any,
    entry: Entry,
    where: dict[str, Any],
    *,
    rehash: bool = True,
) -> None:
    here = {**where, "entry_id": entry.entry_id}
    if rehash and chain.entry_hash(block.hash_alg, entry) != row.entry_hash:
        report.add(Finding("entry.hash_mismatch", "entry content does not match its hash", **here))
    if rehash and chain.entry_id_for(entry.key) != entry.entry_id:
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
class PointSums:
    """Running sums for the invariant (brief §5): points by account kind, and the three system
    accounts it names. A few numbers, however long the journal."""

    by_kind: dict[AccountKind, int] = field(default_factory=lambda: defaultdict(int))
    system: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, entry: Entry, kinds: dict[str, Any]) -> None:
        for leg in entry.legs:
            kind = kinds.get(leg.account) or member_account_kind(leg.account)
            if kind and kind[1] is Asset.POINTS:
                self.by_kind[kind[0]] += leg.amount
            if leg.account in (ISSUANCE, EXPIRED, CLAWBACK):
                self.system[leg.account] += leg.amount

    def plus(self, other: PointSums) -> PointSums:
        both = PointSums()
        for sums in (self, other):
            for kind, n in sums.by_kind.items():
                both.by_kind[kind] += n
            for account, n in sums.system.items():
                both.system[account] += n
        return both

    def totals(self) -> dict[str, int]:
        totals = {
            "issued": -self.system.get(ISSUANCE, 0),
            "redeemed": self.by_kind.get(AccountKind.MERCHANT_ACCEPTED, 0),
            "expired": self.system.get(EXPIRED, 0),
            "clawed_back": self.system.get(CLAWBACK, 0),
            "pending": self.by_kind.get(AccountKind.MEMBER_PENDING, 0),
            "available": self.by_kind.get(AccountKind.MEMBER_AVAILABLE, 0),
        }
        totals["outstanding"] = totals["pending"] + totals["available"]
        return totals


def check_invariant(report: Report, totals: dict[str, int]) -> None:
    """issued = redeemed + expired + clawed back + outstanding (brief §5), from the journal."""
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


def check_reserve(report: Report, reserve: int, liability: int) -> None:
    """brief §4: the reserve covers every outstanding point at the value it was issued with."""
    report.totals["reserve_fen"], report.totals["liability_fen"] = reserve, liability
    if reserve < liability:
        report.add(
            Finding(
                "reserve.short",
                f"reserve {reserve} fen < outstanding points' value {liability} fen",
            )
        )


def judge_lotless(account: str, amount: int) -> Finding:
    return Finding(
        "balance.points_without_lot",
        f"{account} holds {amount} points that belong to no lot (more debt repaid than owed)",
    )


def judge_balance(account: str, stored: int, derived: int, kind: Any) -> list[Finding]:
    """One account's cached balance (all buckets) against the journal's; and its sign."""
    found = []
    if stored != derived:
        found.append(
            Finding("balance.mismatch", f"{account}: stored {stored}, journal says {derived}")
        )
    # a merchant's money account is a running receivable/payable and may be either sign
    signed = (AccountKind.MEMBER_AVAILABLE, AccountKind.MERCHANT_CNY)
    if owner_of(account) and kind not in signed and derived < 0:
        found.append(Finding("balance.negative", f"{account} is {derived}"))
    if account in (EXPIRED, CLAWBACK) and derived < 0:
        found.append(Finding("balance.negative", f"{account} is {derived}"))
    return found


def judge_lot(
    lot_id: str, terms: dict[str, Any], figures: dict[str, Any], d: Derived | None
) -> list[Finding]:
    """One stored lot (its terms, times as UTC text, and its figures with ``status``) against
    the lot re-derived from the journal (None: no entry names it)."""
    if d is None or not d.terms:
        return [Finding("lot.no_earn", f"lot {lot_id} has no earn entry", entry_id=lot_id)]
    found = []
    if any(d.terms.get(k) != v for k, v in terms.items()):
        found.append(
            Finding(
                "lot.terms_mismatch",
                f"lot {lot_id} terms differ from its earn entry",
                entry_id=lot_id,
            )
        )
    derived = {"status": lot_status(d), **{f: getattr(d, f) for f in LOT_FIGURES}}
    wrong = {k: (figures[k], v) for k, v in derived.items() if figures[k] != v}
    if wrong:
        found.append(
            Finding("lot.mismatch", f"lot {lot_id} stored/derived differ: {wrong}", entry_id=lot_id)
        )
    if d.pending < 0 or d.available < 0:
        found.append(Finding("lot.negative", f"lot {lot_id} is below zero", entry_id=lot_id))
    return found
