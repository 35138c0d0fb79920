"""``jifen verify``: recompute every hash, re-derive every balance and lot, check the invariants.

Reads only the tables, the way an auditor with read access would; trusts no cache. The first
finding in chain order names the broken block and entry; the rest are listed after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._rederive import (
    Derived,
    Finding,
    Replay,
    Report,
    check_block,
    check_entry,
    check_lotless,
    check_reserve,
    lot_status,
    point_totals,
    tip_difference,
)
from jifen.ledger._rows import entry_from_rows, lot_from_row
from jifen.ledger.lots import Lot
from jifen.ledger.model import (
    CLAWBACK,
    EXPIRED,
    AccountKind,
    Asset,
    Entry,
    member_account_kind,
    owner_of,
)

BLOCKS_PER_PAGE = 500


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
        replay = Replay()
        lanes = conn.execute(
            select(t.chains.c.chain_id, t.chains.c.height, t.chains.c.tip_hash).order_by(
                t.chains.c.chain_id
            )
        ).all()
        for chain_id, tip_height, tip_hash in lanes:
            _walk_lane(conn, report, kinds, replay, chain_id, (tip_height, tip_hash))
        _check_orphans(conn, report)
        replay.close_reversed_lots()
        check_lotless(report, replay.lotless)
        _check_caps(conn, report, replay.capped, replay.reversals)
        _check_balances(conn, report, replay.balances, kinds)
        _check_lots(conn, report, replay.lots)
        report.totals = point_totals(report, replay.balances, kinds)
        check_reserve(report, replay.balances, replay.lots)
    return report


def _walk_lane(
    conn: Connection,
    report: Report,
    kinds: dict[str, Any],
    replay: Replay,
    chain_id: int,
    tip: tuple[int, str],
) -> None:
    """Every block of one lane in height order: the chain links, each entry's hash and legs,
    the block's hash; and every entry replayed into the derived books."""
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
        for row, entry in entries:
            report.entries += 1
            check_entry(report, kinds, block, row, entry, where)
            replay.apply(entry)
        check_block(report, block, entries, where)
        last_height, last_hash = block.height, block.block_hash
    if (last_height, last_hash) != tip:
        report.add(
            Finding(
                "chain.tip_mismatch",
                tip_difference(*tip, last_height, last_hash),
                chain_id=chain_id,
                height=tip[0],
            )
        )


def _check_orphans(conn: Connection, report: Report) -> None:
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


def _check_lots(conn: Connection, report: Report, derived: dict[str, Derived]) -> None:
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
            "status": lot_status(d),
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
