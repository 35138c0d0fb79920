"""``jifen verify``: recompute every hash, re-derive every balance and lot, check the invariants.

Reads only the tables, the way an auditor with read access would; trusts no cache. The first
finding in chain order names the broken block and entry; the rest are listed after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._rows import entry_from_rows, lot_from_row
from jifen.ledger.lots import Lot, LotStatus
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
    owner_of,
)

BLOCKS_PER_PAGE = 500
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
class _Derived:
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


def verify(engine: Engine) -> Report:
    report = Report()
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot while writers keep writing
            conn.execution_options(isolation_level="REPEATABLE READ")
        report.hash_alg = (
            conn.execute(
                select(t.meta.c.value).where(t.meta.c.name == "hash_alg")
            ).scalar_one_or_none()
            or "sha256"
        )
        kinds = {
            r.account_id: (AccountKind(r.kind), Asset(r.asset))
            for r in conn.execute(
                select(t.accounts.c.account_id, t.accounts.c.kind, t.accounts.c.asset)
            )
        }
        balances: dict[str, int] = defaultdict(int)
        lots: dict[str, _Derived] = defaultdict(_Derived)
        reversals: dict[str, Entry] = {}
        earns: dict[str, Entry] = {}
        lotless: dict[str, int] = defaultdict(int)
        capped: dict[str, tuple[str, Entry]] = {}
        for chain_id, tip_height, tip_hash in conn.execute(
            select(t.chains.c.chain_id, t.chains.c.height, t.chains.c.tip_hash).order_by(
                t.chains.c.chain_id
            )
        ).all():
            last_height, last_hash = 0, chain.GENESIS
            for block, entries in _blocks(conn, chain_id):
                report.blocks += 1
                where = {"chain_id": chain_id, "height": block.height}
                if block.height != last_height + 1 or block.prev_hash != last_hash:
                    report.add(
                        Finding(
                            "chain.gap",
                            "block does not follow the previous one "
                            f"(expected height {last_height + 1} after {last_hash[:12]})",
                            **where,
                        )
                    )
                stored_hashes = []
                for row, entry in entries:
                    report.entries += 1
                    stored_hashes.append(row.entry_hash)
                    _check_entry(report, kinds, block, row, entry, where)
                    _derive(entry, balances, lots, reversals, earns, lotless)
                    if entry.detail.get("cap") and entry.kind in ("earn", "redeem"):
                        capped[entry.entry_id] = (str(entry.detail["cap"]), entry)
                if block.entry_count != len(entries):
                    report.add(
                        Finding(
                            "block.entry_count",
                            f"block says {block.entry_count} "
                            f"entries, the journal holds {len(entries)}",
                            **where,
                        )
                    )
                recomputed = chain.block_hash(
                    block.hash_alg,
                    chain_id=chain_id,
                    height=block.height,
                    prev_hash=block.prev_hash,
                    committed_at=block.committed_at,
                    entry_hashes=stored_hashes,
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
                last_height, last_hash = block.height, block.block_hash
            if (last_height, last_hash) != (tip_height, tip_hash):
                report.add(
                    Finding(
                        "chain.tip_mismatch",
                        _tip_difference(tip_height, tip_hash, last_height, last_hash),
                        chain_id=chain_id,
                        height=tip_height,
                    )
                )
        orphans = conn.execute(
            select(func.count())
            .select_from(t.entries)
            .where(
                ~select(t.blocks.c.chain_id)
                .where(
                    t.blocks.c.chain_id == t.entries.c.chain_id,
                    t.blocks.c.height == t.entries.c.height,
                )
                .exists()
            )
        ).scalar_one()
        if orphans:
            report.add(Finding("entry.no_block", f"{orphans} entries belong to no block"))
        for lot_id in reversals:  # reversing an earn closes its lot
            if lot_id in earns:
                lots[lot_id].reversed = True
        for account, amount in sorted(lotless.items()):
            if amount > 0:
                report.add(
                    Finding(
                        "balance.points_without_lot",
                        f"{account} holds {amount} "
                        "points that belong to no lot (more debt repaid than owed)",
                    )
                )
        _check_caps(conn, report, capped, reversals)
        _check_balances(conn, report, balances, kinds)
        _check_lots(conn, report, lots)
        report.totals = _totals(report, balances, kinds)
        _check_reserve(report, balances, lots)
    return report


def _tip_difference(tip_height: int, tip_hash: str, last_height: int, last_hash: str) -> str:
    """Say what differs between a lane's tip and its last block: the height, the hash, or both."""
    differ = []
    if tip_height != last_height:
        differ.append(f"height {tip_height} but the last block is {last_height}")
    if tip_hash != last_hash:
        differ.append(f"hash {tip_hash} but the last block's is {last_hash}")
    return "lane tip says " + "; ".join(differ)


def _check_reserve(report: Report, balances: dict[str, int], lots: dict[str, _Derived]) -> None:
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


def _blocks(conn: Connection, chain_id: int) -> Iterator[tuple[Any, list[tuple[Any, Entry]]]]:
    """Blocks of one lane in height order, each with its entries (rows and values), paged."""
    after = 0
    while True:
        page = conn.execute(
            select(t.blocks)
            .where(t.blocks.c.chain_id == chain_id, t.blocks.c.height > after)
            .order_by(t.blocks.c.height)
            .limit(BLOCKS_PER_PAGE)
        ).all()
        if not page:
            return
        lo, hi = page[0].height, page[-1].height
        in_range = (t.entries.c.chain_id == chain_id, t.entries.c.height.between(lo, hi))
        legs_by: dict[str, list[Any]] = defaultdict(list)
        for leg in conn.execute(
            select(t.legs)
            .join(t.entries, t.entries.c.entry_id == t.legs.c.entry_id)
            .where(*in_range)
        ):
            legs_by[leg.entry_id].append(leg)
        by_block: dict[int, list[tuple[Any, Entry]]] = defaultdict(list)
        for row in conn.execute(
            select(t.entries).where(*in_range).order_by(t.entries.c.height, t.entries.c.seq)
        ):
            by_block[row.height].append((row, entry_from_rows(row, legs_by[row.entry_id])))
        for block in page:
            yield block, by_block.get(block.height, [])
        after = hi


def _check_entry(
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


def _derive(
    entry: Entry,
    balances: dict[str, int],
    lots: dict[str, _Derived],
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


def _check_caps(
    conn: Connection,
    report: Report,
    capped: dict[str, tuple[str, Entry]],
    reversals: dict[str, Entry],
) -> None:
    """Every cap counts exactly the points of the entries that name it (a reversed redemption
    gives its points back), and none is past the most generous limit any of them was checked
    against (each was checked at its write, under the cap's lock)."""
    derived: dict[str, int] = defaultdict(int)
    limits: dict[str, int] = {}
    for entry_id, (cap_key, entry) in capped.items():
        points = int(entry.detail["points"])
        derived[cap_key] += 0 if entry_id in reversals else points
        limit = entry.detail.get("cap_limit_points")
        if limit is not None:
            limits[cap_key] = max(limits.get(cap_key, int(limit)), int(limit))
    stored = {r.cap_key: int(r.used) for r in conn.execute(select(t.caps))}
    for cap_key in sorted(set(stored) | set(derived)):
        if stored.get(cap_key, 0) != derived[cap_key]:
            report.add(
                Finding(
                    "cap.mismatch",
                    f"cap {cap_key}: stored {stored.get(cap_key, 0)}, "
                    f"journal says {derived[cap_key]}",
                )
            )
    for cap_key, limit in sorted(limits.items()):
        if derived[cap_key] > limit:
            report.add(
                Finding("cap.exceeded", f"cap {cap_key}: {derived[cap_key]} > limit {limit}")
            )


def _status(lot: _Derived) -> LotStatus:
    if lot.reversed:
        return LotStatus.REVERSED
    if lot.expired_entry:
        return LotStatus.EXPIRED
    if lot.released:
        return LotStatus.RELEASED
    return LotStatus.PENDING if lot.pending else LotStatus.VOIDED


def _check_balances(
    conn: Connection, report: Report, derived: dict[str, int], kinds: dict[str, Any]
) -> None:
    cached: dict[str, int] = defaultdict(int)
    for row in conn.execute(
        select(t.balances.c.account_id, func.sum(t.balances.c.amount)).group_by(
            t.balances.c.account_id
        )
    ):
        cached[row[0]] = int(row[1])
    for account in sorted(set(cached) | set(derived)):
        if cached[account] != derived[account]:
            report.add(
                Finding(
                    "balance.mismatch",
                    f"{account}: stored {cached[account]}, journal says {derived[account]}",
                )
            )
        kind = (kinds.get(account) or member_account_kind(account) or (None,))[0]
        # a merchant's money account is a running receivable/payable and may be either sign
        signed = (AccountKind.MEMBER_AVAILABLE, AccountKind.MERCHANT_CNY)
        if owner_of(account) and kind not in signed and derived[account] < 0:
            report.add(Finding("balance.negative", f"{account} is {derived[account]}"))
        if account in (EXPIRED, CLAWBACK) and derived[account] < 0:
            report.add(Finding("balance.negative", f"{account} is {derived[account]}"))


def _check_lots(conn: Connection, report: Report, derived: dict[str, _Derived]) -> None:
    seen: set[str] = set()
    for row in conn.execute(select(t.lots).order_by(t.lots.c.lot_id)):
        lot: Lot = lot_from_row(row)
        seen.add(lot.lot_id)
        d = derived.get(lot.lot_id)
        if d is None or not d.terms:
            report.add(
                Finding("lot.no_earn", f"lot {lot.lot_id} has no earn entry", entry_id=lot.lot_id)
            )
            continue
        terms = {
            k: getattr(lot, k)
            for k in (
                "member_id",
                "merchant_id",
                "order_ref",
                "amount_fen",
                "points",
                "rule_version",
                "value_fen_per_point",
            )
        }
        times = {
            k: chain.utc_text(v) if v else None
            for k, v in (
                ("paid_at", lot.paid_at),
                ("release_at", lot.release_at),
                ("expires_at", lot.expires_at),
            )
        }
        if any(d.terms.get(k) != v for k, v in {**terms, **times}.items()):
            report.add(
                Finding(
                    "lot.terms_mismatch",
                    f"lot {lot.lot_id} terms differ from its earn entry",
                    entry_id=lot.lot_id,
                )
            )
        figures = {
            "status": _status(d),
            "pending": d.pending,
            "available": d.available,
            "redeemed": d.redeemed,
            "expired": d.expired,
            "refunded_fen": d.refunded_fen,
            "refund_clawed": d.refund_clawed,
            "recovered": d.recovered,
        }
        wrong = {k: (getattr(lot, k), v) for k, v in figures.items() if getattr(lot, k) != v}
        if wrong:
            report.add(
                Finding(
                    "lot.mismatch",
                    f"lot {lot.lot_id} stored/derived differ: {wrong}",
                    entry_id=lot.lot_id,
                )
            )
        if d.pending < 0 or d.available < 0:
            report.add(
                Finding("lot.negative", f"lot {lot.lot_id} is below zero", entry_id=lot.lot_id)
            )
    for lot_id in sorted(set(derived) - seen):
        if derived[lot_id].terms:
            report.add(
                Finding("lot.missing", f"earn entry's lot {lot_id} is not stored", entry_id=lot_id)
            )


def _totals(report: Report, balances: dict[str, int], kinds: dict[str, Any]) -> dict[str, int]:
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
