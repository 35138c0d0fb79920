"""The ledger's shell, its public face: ``Ledger`` — one batch of operations → one transaction →
one block, and the reads a caller needs of one member, lot or entry.

A batch reads and locks what it needs (``_loading``), lets the pure ``Planner`` decide, and
writes the result as one block on a free chain lane (``_block``). docs/ledger.md explains the
lock order (member rows, then caps, then a lane) that keeps writers deadlock-free.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, or_, select
from sqlalchemy.exc import DBAPIError

from jifen.ledger import _bulk as bulk
from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._block import OpenBlock, write_block
from jifen.ledger._loading import load_book, receipt, stored_receipts
from jifen.ledger._rows import load_entries, lot_from_row
from jifen.ledger.errors import (
    BatchTooLarge,
    IdempotencyConflict,
    InvalidEntry,
    LedgerError,
    UnsupportedHash,
)
from jifen.ledger.lots import Lot, LotStatus
from jifen.ledger.model import (
    MAX_BATCH,
    SYSTEM_ACCOUNTS,
    Asset,
    Earn,
    Entry,
    Operation,
    Receipt,
    available_account,
    check_id,
    member_accounts,
    merchant_accounts,
    op_body,
    owner_of,
    pending_account,
)
from jifen.ledger.plan import Book, Planner, member_debt
from jifen.store import make_engine, migrate, retryable, writer

MAX_ATTEMPTS = 12
_OPEN_BLOCK = "jifen.open_block"  # where ``one_block`` leaves its block, in ``Connection.info``


@dataclass(frozen=True, slots=True)
class BatchCommitted:
    """What an observer learns of each applied batch (metrics): sizes and time, no content.
    A batch inside a caller's transaction is reported when applied; its commit is the caller's."""

    operations: int  # operations asked for (replays included)
    entries: int  # entries written (0: every operation was a replay)
    seconds: float  # from the first attempt's start to the commit
    attempts: int
    joined: bool = False  # applied inside the caller's transaction (``conn=``), not yet committed


class _LookFirst(Exception):
    """An optimistic attempt was refused: roll back and retry, checking stored keys first."""


@dataclass(frozen=True, slots=True)
class MemberBalance:
    member_id: str
    available: int  # may be below zero only as a recorded debt
    pending: int
    debt: int


def _clock(now: datetime | None) -> datetime:
    """The time an operation happens at: the caller's (a simulated clock) or the wall clock."""
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidEntry("now must be a timezone-aware datetime", field="now")
    return now


class Ledger:
    """The points ledger on one store. Thread-safe; one instance per process is plenty."""

    def __init__(self, engine: Engine, *, hash_alg: str | None = None) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._writer = writer(engine)
        self._accounts: dict[str, Asset] = {a: s for a, (_, s) in SYSTEM_ACCOUNTS.items()}
        self.hash_alg = self._settle_hash_alg(hash_alg)
        self.observers: list[Callable[[BatchCommitted], None]] = []
        """Called after every committed batch (e.g. the API's metrics); must not raise."""

    @classmethod
    def open(
        cls, db: str | None = None, *, hash_alg: str | None = None, **engine_kw: Any
    ) -> Ledger:
        """Open (and migrate) the store at ``db``: a SQLite path or a PostgreSQL URL."""
        engine = make_engine(db, **engine_kw)
        try:
            migrate(engine)
            return cls(engine, hash_alg=hash_alg)
        except BaseException:
            engine.dispose()
            raise

    def _settle_hash_alg(self, wanted: str | None) -> str:
        """The chain's hash algorithm is chosen once, when the first ledger opens the store."""
        if wanted is not None:
            chain.digest(wanted, b"")  # refuses an unknown or unavailable algorithm
        with self._writer.begin() as conn:
            stored = conn.execute(
                select(t.meta.c.value).where(t.meta.c.name == "hash_alg")
            ).scalar_one_or_none()
            if stored is None:
                stored = wanted or "sha256"
                bulk.execute(
                    conn,
                    bulk.Writes().insert_missing(t.meta, [{"name": "hash_alg", "value": stored}]),
                )
        if wanted is not None and wanted != stored:
            raise UnsupportedHash(f"this ledger is chained with {stored}, not {wanted}")
        return stored

    def open_merchant(
        self, merchant_id: str, now: datetime | None = None, *, conn: Connection | None = None
    ) -> None:
        """Open a merchant's accounts (idempotent). A member's open with their first earn."""
        check_id("merchant_id", merchant_id)
        accounts = sorted(merchant_accounts(merchant_id).items())
        opened_at = _clock(now)
        writes = bulk.Writes()
        writes.insert_missing(
            t.accounts,
            [
                {
                    "account_id": a,
                    "kind": k.value,
                    "owner": owner_of(a),
                    "asset": s.value,
                    "opened_at": opened_at,
                }
                for a, (k, s) in accounts
            ],
        )
        writes.insert_missing(
            t.balances, [{"account_id": a, "bucket": 0, "amount": 0} for a, _ in accounts]
        )
        if conn is not None:
            bulk.execute(conn, writes)
            return
        with self._writer.begin() as fresh:
            bulk.execute(fresh, writes)

    # -- writes ----------------------------------------------------------------------------------

    def submit(
        self, op: Operation, now: datetime | None = None, *, conn: Connection | None = None
    ) -> Receipt:
        return self.submit_batch([op], now, conn=conn)[0]

    def submit_batch(
        self,
        ops: Sequence[Operation],
        now: datetime | None = None,
        *,
        conn: Connection | None = None,
    ) -> list[Receipt]:
        """Apply ``ops`` atomically: all of them in one block, or none (and the error says why).

        With ``conn``, the batch joins the caller's transaction (a unit of work that also claims an
        idempotency key, say): it looks up stored keys first, takes its locks on that connection,
        and retries nothing. A refusal leaves the transaction usable; a database error (deadlock,
        a racing insert of the same key) is the caller's to retry, whole."""
        if len(ops) > MAX_BATCH:
            raise BatchTooLarge(f"a batch holds at most {MAX_BATCH} operations, got {len(ops)}")
        now = _clock(now)
        unique: dict[str, Operation] = {}
        for index, op in enumerate(ops):
            try:
                op.validate()
            except LedgerError as exc:
                exc.context.setdefault("index", index)
                raise
            first = unique.setdefault(op.key, op)
            if first is not op and op_body(first) != op_body(op):
                raise IdempotencyConflict(
                    "the same key was sent twice in one batch with different bodies",
                    key=op.key,
                    index=index,
                )
        started = time.perf_counter()
        if conn is not None:
            by_key = self._apply(conn, list(unique.values()), now, optimistic=False)
            self._notify(_committed(ops, by_key, started, 1, joined=True))
            return [by_key[op.key] for op in ops]
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._writer.begin() as conn:
                    by_key = self._apply(conn, list(unique.values()), now, optimistic=attempt == 0)
                break
            except _LookFirst:
                continue  # rolled back; the next attempt looks up stored keys first
            except DBAPIError as exc:
                if not retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        self._notify(_committed(ops, by_key, started, attempt + 1))
        return [by_key[op.key] for op in ops]

    def _notify(self, event: BatchCommitted) -> None:
        for observer in self.observers:
            observer(event)

    def _apply(
        self, conn: Connection, ops: list[Operation], now: datetime, *, optimistic: bool
    ) -> dict[str, Receipt]:
        """Plan and write ``ops``. Optimistic: assume fresh keys (the common case) and check
        stored keys only if planning refuses or the insert meets an existing key (a retry)."""
        receipts = {} if optimistic else stored_receipts(conn, ops)
        fresh = [op for op in ops if op.key not in receipts]
        if not fresh:
            return receipts
        block: OpenBlock | None = conn.info.get(_OPEN_BLOCK)
        if block is not None and not all(isinstance(op, Earn) for op in fresh):
            block.flush_balances(conn)  # an earn reads no balance; every other operation may
        book = load_book(conn, fresh, self._accounts)
        planner = Planner(book)
        entries: list[Entry] = []
        for op in fresh:
            try:
                entries.append(planner.apply(op, now))
            except LedgerError as exc:
                if optimistic:  # perhaps a replay of an applied key: look before refusing
                    raise _LookFirst from exc
                if len(fresh) > 1:
                    exc.context.setdefault("key", op.key)
                raise
        if block is not None:
            entries = block.add(conn, book, entries, now)
        else:
            entries = write_block(conn, book, entries, now, self.hash_alg, sqlite=self._sqlite)
        receipts.update({e.key: receipt(e) for e in entries})
        return receipts

    @contextmanager
    def one_block(self, conn: Connection) -> Iterator[OpenBlock]:
        """Every batch submitted on ``conn`` until the end of this block goes into one block
        (group commit: many requests, one transaction, one block). Leave it before committing:
        its end writes the block; an error inside leaves the transaction to be rolled back."""
        block = OpenBlock(self.hash_alg, sqlite=self._sqlite)
        conn.info[_OPEN_BLOCK] = block
        try:
            yield block
        finally:
            del conn.info[_OPEN_BLOCK]
        block.close(conn)

    def fence(self, open_from: datetime) -> None:
        """The day fence: from now on nothing is booked before ``open_from`` (the start of the
        first business day not yet closed), on any lane; never moved back.

        Lane by lane, in ``chain_id`` order, each in its own short transaction: the update waits
        for the writer holding the lane (if any) to commit, and every writer that takes the lane
        after it reads the new fence. The fence holds one lane at a time and waits for nothing
        while it holds it, so it can never be part of a deadlock (docs/ledger.md)."""
        with self.engine.connect() as conn:
            lanes = list(conn.execute(select(t.chains.c.chain_id)).scalars())
        for lane in sorted(lanes):
            with self._writer.begin() as conn:
                conn.execute(
                    t.chains.update()
                    .where(
                        t.chains.c.chain_id == lane,
                        or_(t.chains.c.open_from.is_(None), t.chains.c.open_from < open_from),
                    )
                    .values(open_from=open_from)
                )

    # -- reads -----------------------------------------------------------------------------------

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's connection (inside its unit of work: never a second one from the pool,
        and it sees the unit's own writes), or a fresh one."""
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as fresh:
                yield fresh

    def balance(self, member_id: str, *, conn: Connection | None = None) -> MemberBalance:
        with self._reading(conn) as c:
            if (block := c.info.get(_OPEN_BLOCK)) is not None:
                block.flush_balances(c)  # a group's balance changes wait for its end
            rows = {
                r[0]: r[1]
                for r in c.execute(
                    select(t.balances.c.account_id, t.balances.c.amount).where(
                        t.balances.c.account_id.in_(list(member_accounts(member_id)))
                    )
                )
            }
            lots = c.execute(
                select(t.lots).where(t.lots.c.member_id == member_id, t.lots.c.available > 0)
            ).all()
        book = Book(
            balances={available_account(member_id): rows.get(available_account(member_id), 0)},
            lots={row.lot_id: lot_from_row(row) for row in lots},
        )
        return MemberBalance(
            member_id=member_id,
            available=rows.get(available_account(member_id), 0),
            pending=rows.get(pending_account(member_id), 0),
            debt=member_debt(book, member_id),
        )

    def lot(self, lot_id: str, *, conn: Connection | None = None) -> Lot | None:
        with self._reading(conn) as c:
            row = c.execute(select(t.lots).where(t.lots.c.lot_id == lot_id)).first()
        return lot_from_row(row) if row else None

    def lots_of(self, member_id: str, *, conn: Connection | None = None) -> list[Lot]:
        with self._reading(conn) as c:
            rows = c.execute(
                select(t.lots).where(t.lots.c.member_id == member_id).order_by(t.lots.c.paid_at)
            ).all()
        return [lot_from_row(r) for r in rows]

    def entry(self, entry_id: str, *, conn: Connection | None = None) -> Receipt | None:
        return self.entries([entry_id], conn=conn).get(entry_id)

    def entries(
        self, entry_ids: Sequence[str], *, conn: Connection | None = None
    ) -> dict[str, Receipt]:
        with self._reading(conn) as c:
            found = load_entries(c, list(entry_ids))
        return {i: receipt(e, replayed=True) for i, e in found.items()}

    def cap_used(self, cap_key: str, *, conn: Connection | None = None) -> int:
        """Points counted against a cap so far (without a lock: the write checks again)."""
        with self._reading(conn) as c:
            used = c.execute(select(t.caps.c.used).where(t.caps.c.cap_key == cap_key)).scalar()
        return int(used or 0)

    def due_releases(
        self, now: datetime, limit: int = MAX_BATCH, *, released_at: datetime | None = None
    ) -> list[str]:
        """Pending lots whose return window has ended by ``now``, oldest first (the release
        job's work). A lot expired by ``released_at`` (when the release will be booked; default
        ``now``) is not released: the expiry job burns it."""
        at = released_at or now
        not_expired = or_(t.lots.c.expires_at.is_(None), t.lots.c.expires_at > at)
        return self._due(
            t.lots.c.release_at,
            [t.lots.c.status == LotStatus.PENDING.value, not_expired],
            now,
            limit,
        )

    def due_expiries(self, now: datetime, limit: int = MAX_BATCH) -> list[str]:
        """Lots with points left whose expiry has passed (the expiry job's work)."""
        live = [
            t.lots.c.status.in_([LotStatus.PENDING.value, LotStatus.RELEASED.value]),
            or_(t.lots.c.pending > 0, t.lots.c.available > 0),
        ]
        return self._due(t.lots.c.expires_at, live, now, limit)

    def _due(self, column: Any, where: list[Any], now: datetime, limit: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(t.lots.c.lot_id)
                    .where(*where, column <= now)
                    .order_by(column, t.lots.c.lot_id)
                    .limit(limit)
                ).scalars()
            )


def _committed(
    ops: Sequence[Operation], by_key: dict[str, Receipt], started: float, attempts: int,
    *, joined: bool = False,
) -> BatchCommitted:  # fmt: skip
    entries = sum(1 for r in by_key.values() if not r.replayed)
    return BatchCommitted(len(ops), entries, time.perf_counter() - started, attempts, joined)
