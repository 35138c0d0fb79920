"""Writing one batch as one block: take a lane, book the entries no earlier than the lane's day
fence, chain their hashes, and write block, entries, legs, lots, caps, balances and the lane tip
(on PostgreSQL in one statement, see ``_bulk``)."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from jifen.ledger import _bulk as bulk
from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._rows import detail_text, lot_figures, lot_row
from jifen.ledger.model import Entry, available_account, owner_of
from jifen.ledger.plan import Book

_FREE_LANE = (
    select(t.chains).order_by(t.chains.c.chain_id).limit(1).with_for_update(skip_locked=True)
)
_LANE = select(t.chains).where(t.chains.c.chain_id == bindparam("lane")).with_for_update()


def write_block(
    conn: Connection,
    book: Book,
    entries: list[Entry],
    now: datetime,
    hash_alg: str,
    *,
    sqlite: bool,
) -> list[Entry]:
    """Append ``entries`` as one block on a free lane and return them as booked: at
    ``max(now, lane.open_from)``, never into a business day already closed. The block's
    ``committed_at`` stays ``now``, the real time of the commit."""
    lane = take_lane(conn, sqlite=sqlite)
    entries, hashes = _booked(hash_alg, entries, now, lane.open_from)
    writes = bulk.Writes()
    _tip(writes, lane, hashes, now, hash_alg)  # the block first, then what it holds
    _journal(writes, entries, hashes, lane.chain_id, lane.height + 1)
    _caches(writes, book, lane.chain_id)
    bulk.execute(conn, writes)
    return entries


class OpenBlock:
    """One block for many batches of one transaction: group commit (``Ledger.one_block``).

    Each batch writes its entries, legs and caches at once, so the rest of its unit of work
    reads them, on the lane the first batch took (held to the commit); the block row and the
    lane's tip are written by ``close``, over the entries still there. A unit of work rolled back
    to its savepoint takes its rows with it, and ``rollback_to`` forgets their hashes, so the
    block covers exactly what commits and its entries' ``seq`` stay 0, 1, 2, …

    Balance changes wait for ``close`` too, summed, and are written there in account order:
    every order of a merchant adds to that merchant's row, and a group holding it from its first
    order to its commit would make every other group (another committer, another worker) queue
    behind it; and groups that took member rows one order at a time, in arrival order, could
    each hold a row the other waits for (a deadlock). Written once at the end, in one order, a
    row is held only for the commit and two groups can only wait, never deadlock, on balances.
    Until then the rows lag the group's entries; every read of them (the planner's, for
    anything but an earn, and ``Ledger.balance``) calls ``flush_balances`` first."""

    def __init__(self, hash_alg: str, *, sqlite: bool) -> None:
        self.hash_alg = hash_alg
        self._sqlite = sqlite
        self._lane: Any = None
        self._hashes: list[str] = []
        self._deltas: list[tuple[str, int, int]] = []  # (account, bucket, amount), not yet written
        self._flushed = 0  # how many of ``_deltas`` are written
        self._committed_at: datetime | None = None

    def mark(self) -> tuple[int, int, int]:
        return len(self._hashes), len(self._deltas), self._flushed

    def rollback_to(self, mark: tuple[int, int, int]) -> None:
        """Forget what a unit of work rolled back to its savepoint: its entries, its balance
        changes, and any flush it made (the savepoint undid those rows too)."""
        hashes, deltas, flushed = mark
        del self._hashes[hashes:]
        del self._deltas[deltas:]
        self._flushed = flushed

    def flush_balances(self, conn: Connection) -> None:
        """Write the balance changes held so far (before a batch reads those rows)."""
        if self._flushed < len(self._deltas):
            bulk.execute(conn, _summed(self._deltas[self._flushed :]))
            self._flushed = len(self._deltas)

    def add(self, conn: Connection, book: Book, entries: list[Entry], now: datetime) -> list[Entry]:
        if self._lane is None:
            self._lane = take_lane(conn, sqlite=self._sqlite)
        lane = self._lane
        entries, hashes = _booked(self.hash_alg, entries, now, lane.open_from)
        writes = bulk.Writes()
        _journal(writes, entries, hashes, lane.chain_id, lane.height + 1, first=len(self._hashes))
        _caches(writes, book, lane.chain_id, deferred=self._deltas)
        bulk.execute(conn, writes)
        self._hashes.extend(hashes)
        self._committed_at = max(now, self._committed_at or now)
        return entries

    def close(self, conn: Connection) -> None:
        """Write the block, the lane's tip and the balance changes held (nothing if every
        batch was rolled back)."""
        if self._hashes and self._committed_at is not None:
            writes = _summed(self._deltas[self._flushed :])
            _tip(writes, self._lane, self._hashes, self._committed_at, self.hash_alg)
            bulk.execute(conn, writes)


def _summed(deltas: list[tuple[str, int, int]]) -> bulk.Writes:
    """Balance changes as one write: each (account, bucket) once, in key order (lock order).
    A zero stays: it opens a member's account row (the first earn's ``available``)."""
    total: dict[tuple[str, int], int] = {}
    for account, bucket, amount in deltas:
        total[account, bucket] = total.get((account, bucket), 0) + amount
    writes = bulk.Writes()
    writes.add_to_balances = [(a, b, d) for (a, b), d in sorted(total.items())]
    return writes


def _booked(
    hash_alg: str, entries: list[Entry], now: datetime, open_from: datetime | None
) -> tuple[list[Entry], list[str]]:
    at = booked_at(now, open_from)
    entries = [e if e.at == at else dataclasses.replace(e, at=at) for e in entries]
    return entries, [chain.entry_hash(hash_alg, e) for e in entries]


def _tip(writes: bulk.Writes, lane: Any, hashes: list[str], now: datetime, hash_alg: str) -> None:
    """The block over ``hashes`` at the lane's next height, and the lane's new tip."""
    height = lane.height + 1
    block_hash = chain.block_hash(
        hash_alg,
        chain_id=lane.chain_id,
        height=height,
        prev_hash=lane.tip_hash,
        committed_at=now,
        entry_hashes=hashes,
    )
    block = {
        "chain_id": lane.chain_id,
        "height": height,
        "prev_hash": lane.tip_hash,
        "hash_alg": hash_alg,
        "committed_at": now,
        "entry_count": len(hashes),
        "block_hash": block_hash,
    }
    writes.insert(t.blocks, [block])
    tip = {"chain_id": lane.chain_id, "height": height, "tip_hash": block_hash}
    writes.update(t.chains, "chain_id", [tip])


def _journal(
    writes: bulk.Writes,
    entries: list[Entry],
    hashes: list[str],
    lane: int,
    height: int,
    *,
    first: int = 0,
) -> None:
    """The append-only rows: entries (in key order for every writer, so racing inserts of a
    reused key cannot deadlock) and their legs."""
    entry_rows = [
        {
            "entry_id": e.entry_id,
            "idem_key": e.key,
            "body_hash": e.body_hash,
            "kind": e.kind,
            "at": e.at,
            "detail": detail_text(e.detail),
            "reverses": e.detail.get("reverses") if e.kind == "reverse" else None,
            "chain_id": lane,
            "height": height,
            "seq": seq,
            "entry_hash": h,
        }
        for seq, (e, h) in enumerate(zip(entries, hashes, strict=True), start=first)
    ]
    leg_rows = [
        {
            "entry_id": e.entry_id,
            "leg_no": n,
            "account_id": leg.account,
            "asset": leg.asset.value,
            "amount": leg.amount,
            "lot_id": leg.lot_id,
        }
        for e in entries
        for n, leg in enumerate(e.legs)
    ]
    writes.insert(t.entries, sorted(entry_rows, key=lambda row: row["entry_id"]))
    writes.insert(t.legs, leg_rows)


def _caches(
    writes: bulk.Writes,
    book: Book,
    lane: int,
    *,
    deferred: list[tuple[str, int, int]] | None = None,
) -> None:
    """The caches ``jifen verify`` re-derives: balances (member and merchant rows in bucket 0,
    system accounts in this lane's bucket), lots and caps. With ``deferred``, the balance
    changes go there instead (an open block writes them at its end)."""
    by_row = {(a, 0 if owner_of(a) else lane): d for a, d in book.deltas.items() if d}
    for lot in book.new_lots.values():  # a member's accounts open with their first earn
        by_row.setdefault((available_account(lot.member_id), 0), 0)
    changes = sorted((a, b, d) for (a, b), d in by_row.items())
    if deferred is not None:
        deferred.extend(changes)
        changes = []
    writes.add_to_balances = changes
    writes.insert(t.lots, [lot_row(book.new_lots[i]) for i in sorted(book.new_lots)])
    writes.update(
        t.lots,
        "lot_id",
        [lot_figures(book.lots[i]) for i in sorted(book.touched_lots - set(book.new_lots))],
    )
    writes.update(
        t.caps,
        "cap_key",
        [{"cap_key": k, "used": book.caps[k]} for k in sorted(book.touched_caps)],
    )


def take_lane(conn: Connection, *, sqlite: bool) -> Any:
    """A free lane (SKIP LOCKED), else wait on a random one. SQLite: one writer, lane 0."""
    if sqlite:
        return conn.execute(_LANE, {"lane": 0}).one()
    lane = conn.execute(_FREE_LANE).first()
    if lane is None:
        lanes = conn.execute(select(t.chains.c.chain_id)).scalars().all()
        lane = conn.execute(_LANE, {"lane": random.choice(lanes)}).one()
    return lane


def booked_at(now: datetime, open_from: datetime | None) -> datetime:
    """The day fence: a lane's ``open_from`` is the start of the first business day not yet
    closed (the daily close sets it under the lane's lock, see docs/ledger.md), so an entry
    planned at ``now`` before it is booked at ``open_from``, into a day still open."""
    return now if open_from is None or now >= open_from else open_from
