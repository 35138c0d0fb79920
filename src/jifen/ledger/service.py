"""The ledger's shell: one batch of operations → one transaction → one block.

Reads and locks what the batch needs, lets the pure ``Planner`` decide, writes the result and
appends one block to a free chain lane. Nothing clever happens here; see docs/ledger.md for the
locking order (keys → member and merchant rows in id order → lane) that keeps writers deadlock-free.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from jifen.ledger import chain
from jifen.ledger._rows import (
    detail_text,
    load_entries,
    lot_figures,
    lot_from_row,
    lot_row,
)
from jifen.ledger.errors import BatchTooLarge, IdempotencyConflict, LedgerError, UnsupportedHash
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
    Void,
    accepted_account,
    available_account,
    check_id,
    member_accounts,
    merchant_accounts,
    op_body,
    owner_of,
    pending_account,
)
from jifen.ledger.plan import Book, Planner, member_debt
from jifen.store import bulk, make_engine, migrate
from jifen.store import tables as t

RETRYABLE_SQLSTATES = {"40001", "40P01", "23505"}
"""Serialization failure, deadlock, and a concurrent insert of the same idempotency key."""
MAX_ATTEMPTS = 12


@dataclass(frozen=True, slots=True)
class MemberBalance:
    member_id: str
    available: int
    pending: int
    debt: int


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


class Ledger:
    """The points ledger on one store. Thread-safe; one instance per process is plenty."""

    def __init__(self, engine: Engine, *, hash_alg: str | None = None) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._insert = sqlite.insert if self._sqlite else postgresql.insert
        self._known_accounts: dict[str, Asset] = {}
        self.hash_alg = self._settle_hash_alg(hash_alg)

    @classmethod
    def open(
        cls, db: str | None = None, *, hash_alg: str | None = None, **engine_kw: Any
    ) -> Ledger:
        """Open (and migrate) the store at ``db``: a SQLite path or a PostgreSQL URL."""
        engine = make_engine(db, **engine_kw)
        migrate(engine)
        return cls(engine, hash_alg=hash_alg)

    def _settle_hash_alg(self, wanted: str | None) -> str:
        """The chain's hash algorithm is chosen once, when the first ledger opens the store."""
        if wanted is not None:
            chain.digest(wanted, b"")  # refuses an unknown or unavailable algorithm
        with self.engine.begin() as conn:
            stored = conn.execute(
                select(t.meta.c.value).where(t.meta.c.name == "hash_alg")
            ).scalar_one_or_none()
            if stored is None:
                stored = wanted or "sha256"
                conn.execute(
                    self._insert(t.meta)
                    .values(name="hash_alg", value=stored)
                    .on_conflict_do_nothing()
                )
        if wanted is not None and wanted != stored:
            raise UnsupportedHash(f"this ledger is chained with {stored}, not {wanted}")
        return stored

    # -- registry --------------------------------------------------------------------------------

    def open_merchant(self, merchant_id: str, now: datetime | None = None) -> None:
        """Open a merchant's accounts (idempotent). Members' accounts open on their first earn."""
        check_id("merchant_id", merchant_id)
        with self.engine.begin() as conn:
            self._open_accounts(conn, merchant_accounts(merchant_id), now or _utcnow())

    def _open_accounts(self, conn: Connection, accounts: dict[str, Any], now: datetime) -> None:
        """Create accounts and their zero balance rows (the rows writers lock), if missing."""
        ordered = sorted(accounts.items())
        bulk.insert_missing(
            conn,
            t.accounts,
            [
                {
                    "account_id": a,
                    "kind": k.value,
                    "owner": owner_of(a),
                    "asset": s.value,
                    "opened_at": now,
                }
                for a, (k, s) in ordered
            ],
        )
        bulk.insert_missing(
            conn, t.balances, [{"account_id": a, "bucket": 0, "amount": 0} for a, _ in ordered]
        )

    # -- writes ----------------------------------------------------------------------------------

    def submit(self, op: Operation, now: datetime | None = None) -> Receipt:
        return self.submit_batch([op], now)[0]

    def submit_batch(self, ops: Sequence[Operation], now: datetime | None = None) -> list[Receipt]:
        """Apply ``ops`` atomically: all of them in one block, or none (and the error says why)."""
        if len(ops) > MAX_BATCH:
            raise BatchTooLarge(f"a batch holds at most {MAX_BATCH} operations, got {len(ops)}")
        now = now or _utcnow()
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
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    by_key = self._apply(conn, list(unique.values()), now)
                break
            except DBAPIError as exc:
                if not _retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        return [by_key[op.key] for op in ops]

    def _apply(self, conn: Connection, ops: list[Operation], now: datetime) -> dict[str, Receipt]:
        ids = {chain.entry_id_for(op.key): op for op in ops}
        stored = conn.execute(
            select(t.entries.c.entry_id, t.entries.c.body_hash).where(
                t.entries.c.entry_id.in_(list(ids))
            )
        ).all()
        replays = []
        for row in stored:
            op = ids.pop(row.entry_id)
            if row.body_hash != chain.body_hash(op_body(op)):
                raise IdempotencyConflict(
                    "this idempotency key was already used with a different body", key=op.key
                )
            replays.append(row.entry_id)
        receipts = {e.key: _receipt(e, replayed=True) for e in load_entries(conn, replays).values()}
        fresh = list(ids.values())
        if not fresh:
            return receipts
        book = self._load_book(conn, fresh)
        planner = Planner(book)
        entries: list[Entry] = []
        for _index, op in enumerate(fresh):
            try:
                entries.append(planner.apply(op, now))
            except LedgerError as exc:
                if len(fresh) > 1:
                    exc.context.setdefault("key", op.key)
                raise
        self._write(conn, book, entries, now)
        receipts.update({e.key: _receipt(e) for e in entries})
        return receipts

    # -- reading what a batch needs --------------------------------------------------------------

    def _load_book(self, conn: Connection, ops: list[Operation]) -> Book:
        book = Book()
        lot_ids: set[str] = set()
        members: set[str] = set()
        merchants: set[str] = set()
        needed: set[str] = set()
        reverse_targets = [op.entry_id for op in ops if isinstance(op, Reverse)]
        for op in ops:
            if isinstance(op, Release | Void | Expire | Refund):
                lot_ids.add(op.lot_id)
            elif isinstance(op, Earn):
                needed.add(accepted_account(op.merchant_id))
            elif isinstance(op, Redeem):
                members.add(op.member_id)
                needed |= {available_account(op.member_id), accepted_account(op.merchant_id)}
            elif isinstance(op, Post):
                needed |= {leg.account for leg in op.legs}
        book.entries = load_entries(conn, reverse_targets)
        for entry in book.entries.values():
            if entry.kind == "earn":
                lot_ids.add(entry.entry_id)
            lot_ids |= {leg.lot_id for leg in entry.legs if leg.lot_id}
            needed |= {leg.account for leg in entry.legs}
        if reverse_targets:
            book.reversed = set(
                conn.execute(
                    select(t.entries.c.reverses).where(t.entries.c.reverses.in_(reverse_targets))
                ).scalars()
            )
        if lot_ids:
            members |= set(
                conn.execute(
                    select(t.lots.c.member_id).where(t.lots.c.lot_id.in_(list(lot_ids)))
                ).scalars()
            )
        for account in needed:
            owner = owner_of(account)
            if owner and owner.startswith("merchant:"):
                merchants.add(account)
        self._lock(conn, book, members, merchants)
        self._load_accounts(conn, book, needed | set(book.balances))
        if members or lot_ids:
            live = and_(
                t.lots.c.member_id.in_(sorted(members)),
                or_(t.lots.c.pending > 0, t.lots.c.available > 0),
            )
            for row in conn.execute(select(t.lots).where(or_(live, t.lots.c.lot_id.in_(lot_ids)))):
                book.lots[row.lot_id] = lot_from_row(row)
        return book

    def _lock(
        self, conn: Connection, book: Book, members: set[str], merchant_accounts_: set[str]
    ) -> None:
        """Lock member and merchant balance rows in id order (the global lock order)."""
        locked = sorted({a for m in members for a in member_accounts(m)} | merchant_accounts_)
        if not locked:
            return
        rows = conn.execute(
            select(t.balances.c.account_id, t.balances.c.amount)
            .where(t.balances.c.account_id.in_(locked), t.balances.c.bucket == 0)
            .order_by(t.balances.c.account_id)
            .with_for_update()
        )
        book.balances.update({r.account_id: r.amount for r in rows})

    def _load_accounts(self, conn: Connection, book: Book, needed: Iterable[str]) -> None:
        missing = [a for a in needed if a not in self._known_accounts]
        if missing:
            for row in conn.execute(
                select(t.accounts.c.account_id, t.accounts.c.asset).where(
                    t.accounts.c.account_id.in_(missing)
                )
            ):
                self._known_accounts[row.account_id] = Asset(row.asset)
        for account in needed:
            if account in self._known_accounts:
                book.accounts[account] = self._known_accounts[account]
        for account, (_, asset) in SYSTEM_ACCOUNTS.items():
            book.accounts[account] = asset

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, conn: Connection, book: Book, entries: list[Entry], now: datetime) -> None:
        new_members = sorted(
            m for m in book.new_accounts if available_account(m) not in self._known_accounts
        )
        if new_members:
            self._open_accounts(
                conn, {a: v for m in new_members for a, v in member_accounts(m).items()}, now
            )
        bulk.add_to_balances(
            conn, sorted((a, 0, d) for a, d in book.deltas.items() if owner_of(a) and d)
        )
        bulk.insert_rows(conn, t.lots, [lot_row(lot) for lot in book.new_lots.values()])
        bulk.update_rows(
            conn,
            t.lots,
            "lot_id",
            [
                lot_figures(book.lots[i])
                for i in sorted(book.touched_lots)
                if i not in book.new_lots
            ],
        )
        self._append_block(conn, book, entries, now)
        for member in new_members:
            for account in member_accounts(member):
                self._known_accounts[account] = Asset.POINTS

    def _append_block(
        self, conn: Connection, book: Book, entries: list[Entry], now: datetime
    ) -> None:
        lane = self._take_lane(conn)
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
        conn.execute(
            t.blocks.insert().values(
                chain_id=lane.chain_id,
                height=height,
                prev_hash=lane.tip_hash,
                hash_alg=self.hash_alg,
                committed_at=now,
                entry_count=len(entries),
                block_hash=block_hash,
            )
        )
        bulk.insert_rows(
            conn,
            t.entries,
            [
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
            ],
        )
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
        bulk.insert_rows(conn, t.legs, leg_rows)
        bulk.add_to_balances(
            conn,
            sorted((a, lane.chain_id, d) for a, d in book.deltas.items() if not owner_of(a) and d),
        )
        conn.execute(
            update(t.chains)
            .where(t.chains.c.chain_id == lane.chain_id)
            .values(height=height, tip_hash=block_hash)
        )

    def _take_lane(self, conn: Connection) -> Any:
        """A free lane (SKIP LOCKED), else wait on a random one. SQLite: one writer, lane 0."""
        query = select(t.chains).order_by(t.chains.c.chain_id).limit(1)
        if self._sqlite:
            return conn.execute(query.where(t.chains.c.chain_id == 0)).one()
        lane = conn.execute(query.with_for_update(skip_locked=True)).first()
        if lane is None:
            lanes = conn.execute(select(t.chains.c.chain_id)).scalars().all()
            lane = conn.execute(
                query.where(t.chains.c.chain_id == random.choice(lanes)).with_for_update()
            ).one()
        return lane

    # -- reads -----------------------------------------------------------------------------------

    def balance(self, member_id: str) -> MemberBalance:
        with self.engine.connect() as conn:
            rows = dict(
                conn.execute(
                    select(t.balances.c.account_id, t.balances.c.amount).where(
                        t.balances.c.account_id.in_(list(member_accounts(member_id)))
                    )
                ).all()
            )
            book = Book(
                balances={available_account(member_id): rows.get(available_account(member_id), 0)}
            )
            for row in conn.execute(
                select(t.lots).where(t.lots.c.member_id == member_id, t.lots.c.available > 0)
            ):
                book.lots[row.lot_id] = lot_from_row(row)
        return MemberBalance(
            member_id=member_id,
            available=rows.get(available_account(member_id), 0),
            pending=rows.get(pending_account(member_id), 0),
            debt=member_debt(book, member_id),
        )

    def lot(self, lot_id: str) -> Lot | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.lots).where(t.lots.c.lot_id == lot_id)).first()
        return lot_from_row(row) if row else None

    def lots_of(self, member_id: str) -> list[Lot]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.lots).where(t.lots.c.member_id == member_id).order_by(t.lots.c.paid_at)
            ).all()
        return [lot_from_row(r) for r in rows]

    def entry(self, entry_id: str) -> Receipt | None:
        with self.engine.connect() as conn:
            found = load_entries(conn, [entry_id]).get(entry_id)
        return _receipt(found, replayed=True) if found else None

    def due_releases(self, now: datetime, limit: int = MAX_BATCH) -> list[str]:
        """Lots whose return window has ended, oldest first (what the release job does next)."""
        return self._due(t.lots.c.release_at, LotStatus.PENDING, now, limit)

    def due_expiries(self, now: datetime, limit: int = MAX_BATCH) -> list[str]:
        """Lots with points left whose expiry has passed."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(t.lots.c.lot_id)
                    .where(
                        t.lots.c.status.in_([LotStatus.PENDING.value, LotStatus.RELEASED.value]),
                        t.lots.c.expires_at <= now,
                        or_(t.lots.c.pending > 0, t.lots.c.available > 0),
                    )
                    .order_by(t.lots.c.expires_at, t.lots.c.lot_id)
                    .limit(limit)
                ).scalars()
            )

    def _due(self, column: Any, status: LotStatus, now: datetime, limit: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(t.lots.c.lot_id)
                    .where(t.lots.c.status == status.value, column <= now)
                    .order_by(column, t.lots.c.lot_id)
                    .limit(limit)
                ).scalars()
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
