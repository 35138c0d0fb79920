"""The ledger's shell: one batch of operations → one transaction → one block.

Reads and locks what the batch needs, lets the pure ``Planner`` decide, writes the result and
appends one block to a free chain lane. Nothing clever happens here; docs/ledger.md explains the
lock order (member and merchant rows in id order, then a lane) that keeps writers deadlock-free.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select
from sqlalchemy.exc import DBAPIError

from jifen.ledger import _bulk as bulk
from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._rows import detail_text, load_entries, lot_figures, lot_from_row, lot_row
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
    Expire,
    Operation,
    Post,
    Receipt,
    Redeem,
    Refund,
    Release,
    Reverse,
    Settle,
    Void,
    available_account,
    check_id,
    member_accounts,
    merchant_accounts,
    op_body,
    owner_id,
    owner_of,
    pending_account,
)
from jifen.ledger.plan import Book, Planner, member_debt
from jifen.store import make_engine, migrate, retryable, writer

MAX_ATTEMPTS = 12

_STORED = select(t.entries.c.entry_id, t.entries.c.body_hash).where(
    t.entries.c.entry_id.in_(bindparam("ids", expanding=True))
)
_ACCOUNTS = select(t.accounts.c.account_id, t.accounts.c.asset).where(
    t.accounts.c.account_id.in_(bindparam("ids", expanding=True))
)
_FREE_LANE = (
    select(t.chains).order_by(t.chains.c.chain_id).limit(1).with_for_update(skip_locked=True)
)
_LANE = select(t.chains).where(t.chains.c.chain_id == bindparam("lane")).with_for_update()


@dataclass(frozen=True, slots=True)
class BatchCommitted:
    """What an observer learns of each applied batch (metrics): sizes and time, no content.
    A batch inside a caller's transaction is reported when applied; its commit is the caller's."""

    operations: int  # operations asked for (replays included)
    entries: int  # entries written (0: every operation was a replay)
    seconds: float  # from the first attempt's start to the commit
    attempts: int


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
            self._notify(_committed(ops, by_key, started, 1))
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
        receipts = {} if optimistic else self._replays(conn, ops)
        fresh = [op for op in ops if op.key not in receipts]
        if not fresh:
            return receipts
        book = self._load_book(conn, fresh)
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
        self._write(conn, book, entries, now)
        receipts.update({e.key: _receipt(e) for e in entries})
        return receipts

    def _replays(self, conn: Connection, ops: list[Operation]) -> dict[str, Receipt]:
        """Receipts of keys already applied; a key reused with another body is refused."""
        by_id = {chain.entry_id_for(op.key): op for op in ops}
        stored = conn.execute(_STORED, {"ids": list(by_id)}).all()
        for row in stored:
            if row.body_hash != chain.body_hash(op_body(by_id[row.entry_id])):
                raise IdempotencyConflict(
                    "this idempotency key was already used with a different body",
                    key=by_id[row.entry_id].key,
                )
        entries = load_entries(conn, [row.entry_id for row in stored])
        return {e.key: _receipt(e, replayed=True) for e in entries.values()}

    # -- reading what a batch needs --------------------------------------------------------------

    def _load_book(self, conn: Connection, ops: list[Operation]) -> Book:
        book = Book()
        lot_ids: set[str] = set()
        members: set[str] = set()  # members whose lots the batch reads
        earners: set[str] = set()  # members who only earn: their rows are locked, lots not read
        accounts: set[str] = set()  # merchant and system accounts the batch names
        checked: set[str] = set()  # accounts a manual entry or correction may debit
        caps = {op.cap.key for op in ops if isinstance(op, Earn | Redeem) and op.cap is not None}
        for op in ops:
            if isinstance(op, Release | Void | Expire | Refund):
                lot_ids.add(op.lot_id)
            elif isinstance(op, Earn):
                earners.add(op.member_id)
                accounts |= set(merchant_accounts(op.merchant_id))
            elif isinstance(op, Redeem):
                members.add(op.member_id)
                accounts |= set(merchant_accounts(op.merchant_id))
            elif isinstance(op, Settle):
                accounts |= set(merchant_accounts(op.merchant_id))
            elif isinstance(op, Post):
                accounts |= {leg.account for leg in op.legs}
                checked |= {leg.account for leg in op.legs}
        targets = [op.entry_id for op in ops if isinstance(op, Reverse)]
        if targets:
            book.entries = load_entries(conn, targets)
            book.reversed = set(
                conn.execute(
                    select(t.entries.c.reverses).where(t.entries.c.reverses.in_(targets))
                ).scalars()
            )
            for entry in book.entries.values():
                caps |= {str(entry.detail["cap"])} if entry.detail.get("cap") else set()
                lot_ids |= {leg.lot_id for leg in entry.legs if leg.lot_id}
                lot_ids |= {entry.entry_id} if entry.kind == "earn" else set()
                accounts |= {leg.account for leg in entry.legs}
                checked |= {leg.account for leg in entry.legs}
        if lot_ids:
            members |= set(
                conn.execute(
                    select(t.lots.c.member_id).where(t.lots.c.lot_id.in_(lot_ids))
                ).scalars()
            )
        members |= {owner_id(a) for a in accounts if a.startswith("member:")}
        accounts = {a for a in accounts if not a.startswith("member:")}
        # merchant rows are locked only where a debit must be checked; earns and redemptions
        # only ever add to them, at write time, so they never wait on a merchant's hot row
        merchants = {a for a in checked if a.startswith("merchant:")}
        # every lock up front, in one global order (account id); see bulk.lock_balances
        locked = sorted({a for m in members | earners for a in member_accounts(m)} | merchants)
        for account, (amount, created) in bulk.lock_balances(conn, locked).items():
            if not created:  # an account opened just now is opened by the earn that needs it
                book.balances[account] = amount
        # then the caps, in key order: after every balance row, before the lane (docs/ledger.md)
        book.caps = bulk.lock_caps(conn, sorted(caps))
        self._learn_accounts(conn, accounts)
        book.accounts = {a: self._accounts[a] for a in accounts if a in self._accounts}
        book.accounts.update({a: s for a, (_, s) in SYSTEM_ACCOUNTS.items()})
        book.accounts.update({a: Asset.POINTS for a in book.balances if a.startswith("member:")})
        if any(not isinstance(op, Earn) for op in ops):
            members |= earners  # a release or refund in the batch may need an earner's other lots
        if members or lot_ids:
            live = and_(
                t.lots.c.member_id.in_(sorted(members)),
                or_(t.lots.c.pending > 0, t.lots.c.available > 0),
            )
            for row in conn.execute(select(t.lots).where(or_(live, t.lots.c.lot_id.in_(lot_ids)))):
                book.lots[row.lot_id] = lot_from_row(row)
        return book

    def _learn_accounts(self, conn: Connection, accounts: set[str]) -> None:
        """Merchant accounts never close in the ledger, so their existence is cached."""
        missing = [a for a in accounts if a not in self._accounts]
        if missing:
            self._accounts.update(
                {r[0]: Asset(r[1]) for r in conn.execute(_ACCOUNTS, {"ids": missing})}
            )

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, conn: Connection, book: Book, entries: list[Entry], now: datetime) -> None:
        """Take a lane and append ``entries`` as one block. The entries are booked at
        ``max(now, lane.open_from)``, never into a business day already closed; ``entries`` is
        rebooked in place, so the receipts built from it carry the time actually booked. The
        block's ``committed_at`` stays ``now``, the real time of the commit."""
        lane = self._take_lane(conn)
        self._rebook(entries, self._booked_at(now, lane.open_from))
        height = lane.height + 1
        hashes = [chain.entry_hash(self.hash_alg, e) for e in entries]
        block_hash = chain.block_hash(
            self.hash_alg,
            chain_id=lane.chain_id,
            height=height,
            prev_hash=lane.tip_hash,
            committed_at=now,
            entry_hashes=hashes,
        )
        writes = bulk.Writes(  # member and merchant rows: bucket 0; system: this lane's bucket
            add_to_balances=sorted(
                (a, 0 if owner_of(a) else lane.chain_id, d) for a, d in book.deltas.items() if d
            )
        )
        writes.insert(
            t.blocks,
            [
                {
                    "chain_id": lane.chain_id,
                    "height": height,
                    "prev_hash": lane.tip_hash,
                    "hash_alg": self.hash_alg,
                    "committed_at": now,
                    "entry_count": len(entries),
                    "block_hash": block_hash,
                }
            ],
        )
        entry_rows = [
            {
                "entry_id": e.entry_id,
                "idem_key": e.key,
                "body_hash": e.body_hash,
                "kind": e.kind,
                "at": e.at,
                "detail": detail_text(e.detail),
                "reverses": e.detail.get("reverses") if e.kind == "reverse" else None,
                "chain_id": lane.chain_id,
                "height": height,
                "seq": seq,
                "entry_hash": h,
            }
            for seq, (e, h) in enumerate(zip(entries, hashes, strict=True))
        ]
        # one key order for every writer, so racing inserts of a reused key cannot deadlock
        writes.insert(t.entries, sorted(entry_rows, key=lambda row: row["entry_id"]))
        writes.insert(
            t.legs,
            [
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
            ],
        )
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
        writes.update(
            t.chains,
            "chain_id",
            [{"chain_id": lane.chain_id, "height": height, "tip_hash": block_hash}],
        )
        bulk.execute(conn, writes)

    def _take_lane(self, conn: Connection) -> Any:
        """A free lane (SKIP LOCKED), else wait on a random one. SQLite: one writer, lane 0."""
        if self._sqlite:
            return conn.execute(_LANE, {"lane": 0}).one()
        lane = conn.execute(_FREE_LANE).first()
        if lane is None:
            lanes = conn.execute(select(t.chains.c.chain_id)).scalars().all()
            lane = conn.execute(_LANE, {"lane": random.choice(lanes)}).one()
        return lane

    @staticmethod
    def _booked_at(now: datetime, open_from: datetime | None) -> datetime:
        """The day fence: a lane's ``open_from`` is the start of the first business day not yet
        closed (the daily close sets it under the lane's lock, see docs/ledger.md), so an entry
        planned at ``now`` before it is booked at ``open_from``, into a day still open."""
        return now if open_from is None or now >= open_from else open_from

    @staticmethod
    def _rebook(entries: list[Entry], booked_at: datetime) -> None:
        """Re-create the planned entries at ``booked_at`` (before they are hashed)."""
        from dataclasses import replace  # here, not at the top: keeps this change in one place

        entries[:] = [e if e.at == booked_at else replace(e, at=booked_at) for e in entries]

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
        return {i: _receipt(e, replayed=True) for i, e in found.items()}

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
    ops: Sequence[Operation], by_key: dict[str, Receipt], started: float, attempts: int
) -> BatchCommitted:
    return BatchCommitted(
        operations=len(ops),
        entries=sum(1 for r in by_key.values() if not r.replayed),
        seconds=time.perf_counter() - started,
        attempts=attempts,
    )


def _receipt(entry: Entry, *, replayed: bool = False) -> Receipt:
    return Receipt(
        entry_id=entry.entry_id,
        key=entry.key,
        kind=entry.kind,
        at=entry.at,
        legs=entry.legs,
        detail=entry.detail,
        replayed=replayed,
    )
