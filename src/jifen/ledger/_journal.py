"""The journal as an auditor reads it (docs/auditor.md): stored entries with their legs in chain
order, blocks, and each lane's tip. Public through ``jifen.ledger.queries``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from jifen.ledger import _tables as t
from jifen.ledger._rows import detail_value
from jifen.store import after_key


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One stored entry with its place in the chain and its legs, as stored and hashed."""

    entry_id: str
    kind: str
    at: datetime
    chain_id: int
    height: int
    seq: int
    entry_hash: str
    idem_key: str
    body_hash: str
    detail: dict[str, Any]
    legs: list[tuple[str, str, int, str | None]]  # (account, asset, amount, lot id)


def journal(
    conn: Connection, *, chain_id: int | None, after: Sequence[Any] | None, limit: int
) -> list[JournalEntry]:
    """Entries in chain order (lane, block height, position in the block), after the sort key
    ``after``, at most ``limit``; one lane's only with ``chain_id``."""
    e = t.entries.c
    sort = [e.chain_id, e.height, e.seq]
    query = select(t.entries).where(after_key(sort, after, newest_first=False))
    if chain_id is not None:
        query = query.where(e.chain_id == chain_id)
    rows = conn.execute(query.order_by(*sort).limit(limit)).all()
    legs: dict[str, list[tuple[str, str, int, str | None]]] = {r.entry_id: [] for r in rows}
    if rows:
        leg_rows = conn.execute(
            select(t.legs).where(t.legs.c.entry_id.in_(list(legs))).order_by(t.legs.c.leg_no)
        )
        for leg in leg_rows:
            legs[leg.entry_id].append((leg.account_id, leg.asset, int(leg.amount), leg.lot_id))
    return [
        JournalEntry(
            r.entry_id,
            r.kind,
            r.at,
            r.chain_id,
            int(r.height),
            r.seq,
            r.entry_hash,
            r.idem_key,
            r.body_hash,
            detail_value(r.detail),
            legs[r.entry_id],
        )
        for r in rows
    ]


def journal_entry(conn: Connection, entry_id: str) -> JournalEntry | None:
    """One entry by its id, with its place in the chain and its legs (an auditor follows a
    link to it), or None."""
    e = t.entries.c
    place = conn.execute(select(e.chain_id, e.height, e.seq).where(e.entry_id == entry_id)).first()
    if place is None:
        return None
    found = journal(
        conn, chain_id=place.chain_id, after=(place.chain_id, place.height, place.seq - 1), limit=1
    )
    return found[0] if found and found[0].entry_id == entry_id else None


@dataclass(frozen=True, slots=True)
class BlockRow:
    chain_id: int
    height: int
    prev_hash: str
    hash_alg: str
    committed_at: datetime
    entry_count: int
    block_hash: str


def blocks(
    conn: Connection, *, chain_id: int | None, after: Sequence[Any] | None, limit: int
) -> list[BlockRow]:
    """Blocks by lane and height, after the sort key ``after`` (lane, height)."""
    b = t.blocks.c
    sort = [b.chain_id, b.height]
    query = select(t.blocks).where(after_key(sort, after, newest_first=False))
    if chain_id is not None:
        query = query.where(b.chain_id == chain_id)
    return [
        BlockRow(
            r.chain_id,
            int(r.height),
            r.prev_hash,
            r.hash_alg,
            r.committed_at,
            r.entry_count,
            r.block_hash,
        )
        for r in conn.execute(query.order_by(*sort).limit(limit))
    ]


def chain_tips(conn: Connection) -> list[tuple[int, int, str]]:
    """(lane, height, hash of its latest block) of every lane, by lane."""
    c = t.chains.c
    return [
        (int(lane), int(height), tip)
        for lane, height, tip in conn.execute(
            select(c.chain_id, c.height, c.tip_hash).order_by(c.chain_id)
        )
    ]
