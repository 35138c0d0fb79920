"""The journal as an auditor reads it (docs/auditor.md): stored entries with their legs in chain
order, blocks, and each lane's tip. Public through ``jifen.ledger.queries``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

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
    reverses: str | None = None  # the entry a reversal negates (the stored column)


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
            r.reverses,
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


def blocks_until(
    conn: Connection, lanes: Mapping[int, int], *, page: int = 2_000
) -> Iterator[BlockRow]:
    """Every block of the lanes named, up to each lane's height (inclusive), by lane and height,
    read ``page`` blocks at a time: an export streams the chain however long it is."""
    for lane, top in sorted(lanes.items()):
        after: tuple[int, int] = (lane, 0)
        while after[1] < top:
            found = blocks(conn, chain_id=lane, after=after, limit=min(page, top - after[1]))
            yield from (b for b in found if b.height <= top)
            if not found:
                break
            after = (lane, found[-1].height)


def journal_until(
    conn: Connection, lanes: Mapping[int, int], *, page: int = 2_000
) -> Iterator[JournalEntry]:
    """Every entry (with its legs) of the blocks of ``blocks_until``, in chain order (lane,
    height, position in the block), read ``page`` entries at a time."""
    for lane, top in sorted(lanes.items()):
        after: tuple[int, int, int] = (lane, 0, 2**31 - 1)
        while True:
            found = journal(conn, chain_id=lane, after=after, limit=page)
            within = [e for e in found if e.height <= top]
            yield from within
            if len(within) < page:
                break
            last = within[-1]
            after = (lane, last.height, last.seq)


@dataclass(frozen=True, slots=True)
class AccountRow:
    """A registered account (merchants' and the system's; members' follow from their names)."""

    account_id: str
    kind: str
    owner: str | None
    asset: str
    opened_at: datetime


def accounts(conn: Connection, *, page: int = 2_000) -> Iterator[AccountRow]:
    """Every registered account by id, ``page`` rows at a time."""
    a = t.accounts.c
    after: Sequence[Any] | None = None
    while True:
        rows = conn.execute(
            select(t.accounts)
            .where(after_key([a.account_id], after, newest_first=False))
            .order_by(a.account_id)
            .limit(page)
        ).all()
        yield from (AccountRow(r.account_id, r.kind, r.owner, r.asset, r.opened_at) for r in rows)
        if len(rows) < page:
            return
        after = (rows[-1].account_id,)


def stored_balances(conn: Connection, *, page: int = 5_000) -> Iterator[tuple[str, int]]:
    """(account, balance) of every account with a stored balance (its buckets summed), by
    account: the cache ``jifen verify`` holds against the journal."""
    b = t.balances.c
    after: Sequence[Any] | None = None
    while True:
        rows = conn.execute(
            select(b.account_id, func.sum(b.amount))
            .where(after_key([b.account_id], after, newest_first=False))
            .group_by(b.account_id)
            .order_by(b.account_id)
            .limit(page)
        ).all()
        yield from ((account, int(amount)) for account, amount in rows)
        if len(rows) < page:
            return
        after = (rows[-1][0],)
