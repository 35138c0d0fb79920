"""What a batch needs before the planner decides: the receipts of keys already applied, and the
slice of the ledger its operations touch, read and locked in one order for every writer.

The lock order (docs/ledger.md, "Batches, lanes and the hot row"): every member row a batch reads
(and every merchant row a debit must check) in one statement in account-id order, then every cap
row in key order; the lane comes last, when the block is written (``_block``). Rows a batch only
adds to (an earn's member, every merchant's and system row) are not read and are locked only
by the write itself, in account order, just before the commit.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, or_, select

from jifen.ledger import _bulk as bulk
from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._rows import load_entries, lot_from_row
from jifen.ledger.errors import IdempotencyConflict
from jifen.ledger.model import (
    SYSTEM_ACCOUNTS,
    Asset,
    Collect,
    Earn,
    Entry,
    Expire,
    Operation,
    PayOut,
    Post,
    Receipt,
    Redeem,
    Refund,
    Release,
    Reverse,
    Settle,
    Void,
    member_accounts,
    merchant_accounts,
    op_body,
    owner_id,
)
from jifen.ledger.plan import Book
from jifen.ledger.queries import LIVE

_STORED = select(t.entries.c.entry_id, t.entries.c.body_hash).where(
    t.entries.c.entry_id.in_(bindparam("ids", expanding=True))
)
_ACCOUNTS = select(t.accounts.c.account_id, t.accounts.c.asset).where(
    t.accounts.c.account_id.in_(bindparam("ids", expanding=True))
)


def receipt(entry: Entry, *, replayed: bool = False) -> Receipt:
    return Receipt(
        entry_id=entry.entry_id,
        key=entry.key,
        kind=entry.kind,
        at=entry.at,
        legs=entry.legs,
        detail=entry.detail,
        replayed=replayed,
    )


def stored_receipts(conn: Connection, ops: list[Operation]) -> dict[str, Receipt]:
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
    return {e.key: receipt(e, replayed=True) for e in entries.values()}


class _Needs:
    """What the operations of a batch name: lots, members, accounts, caps, reversal targets."""

    def __init__(self, ops: list[Operation]) -> None:
        self.lot_ids: set[str] = set()
        self.members: set[str] = set()  # members whose lots the batch reads
        self.earners: set[str] = set()  # members who only earn: rows locked, lots not read
        self.accounts: set[str] = set()  # merchant and system accounts the batch names
        self.checked: set[str] = set()  # accounts a manual entry or correction may debit
        self.caps = {o.cap.key for o in ops if isinstance(o, Earn | Redeem) and o.cap is not None}
        self.targets = [op.entry_id for op in ops if isinstance(op, Reverse)]
        self.only_earns = all(isinstance(op, Earn) for op in ops)
        for op in ops:
            if isinstance(op, Release | Void | Expire | Refund):
                self.lot_ids.add(op.lot_id)
            elif isinstance(op, Earn):
                self.earners.add(op.member_id)
                self.accounts |= set(merchant_accounts(op.merchant_id))
            elif isinstance(op, Redeem):
                self.members.add(op.member_id)
                self.accounts |= set(merchant_accounts(op.merchant_id))
            elif isinstance(op, Settle | Collect | PayOut):
                self.accounts |= set(merchant_accounts(op.merchant_id))
            elif isinstance(op, Post):
                self.accounts |= {leg.account for leg in op.legs}
                self.checked |= {leg.account for leg in op.legs}

    def reversing(self, targets: dict[str, Entry]) -> None:
        """A reversal touches whatever the entry it reverses touched."""
        for entry in targets.values():
            self.caps |= {str(entry.detail["cap"])} if entry.detail.get("cap") else set()
            self.lot_ids |= {leg.lot_id for leg in entry.legs if leg.lot_id}
            self.lot_ids |= {entry.entry_id} if entry.kind == "earn" else set()
            self.accounts |= {leg.account for leg in entry.legs}
            self.checked |= {leg.account for leg in entry.legs}


def load_book(conn: Connection, ops: list[Operation], known: dict[str, Asset]) -> Book:
    """Read and lock what ``ops`` need. ``known`` caches the asset of accounts seen before
    (merchant accounts never close), and learns the new ones."""
    book = Book()
    needs = _Needs(ops)
    if needs.targets:
        book.entries = load_entries(conn, needs.targets)
        book.reversed = set(
            conn.execute(
                select(t.entries.c.reverses).where(t.entries.c.reverses.in_(needs.targets))
            ).scalars()
        )
        needs.reversing(book.entries)
    members = set(needs.members)
    if needs.lot_ids:
        members |= set(
            conn.execute(
                select(t.lots.c.member_id).where(t.lots.c.lot_id.in_(needs.lot_ids))
            ).scalars()
        )
    members |= {owner_id(a) for a in needs.accounts if a.startswith("member:")}
    accounts = {a for a in needs.accounts if not a.startswith("member:")}
    # earn-only batches lock no member row: an earn only adds to a member's pending balance, at
    # write time (docs/ledger.md, "Batches, lanes and the hot row")
    _lock(conn, book, members if needs.only_earns else members | needs.earners, needs)
    _learn(conn, accounts, known)
    book.accounts = {a: known[a] for a in accounts if a in known}
    book.accounts.update({a: s for a, (_, s) in SYSTEM_ACCOUNTS.items()})
    book.accounts.update({a: Asset.POINTS for a in book.balances if a.startswith("member:")})
    if not needs.only_earns:
        members |= needs.earners  # a release or refund in the batch may need an earner's lots
    if members or needs.lot_ids:
        live = t.lots.c.member_id.in_(sorted(members)) & LIVE
        query = select(t.lots).where(or_(live, t.lots.c.lot_id.in_(needs.lot_ids)))
        for row in conn.execute(query):
            book.lots[row.lot_id] = lot_from_row(row)
    return book


def _lock(conn: Connection, book: Book, members: set[str], needs: _Needs) -> None:
    """Every lock up front, in one global order: balance rows by account id, then cap rows by
    key. Merchant rows are locked only where a debit must be checked; earns and redemptions only
    ever add to them, at write time, so they never wait on a merchant's hot row."""
    merchants = {a for a in needs.checked if a.startswith("merchant:")}
    locked = sorted({a for m in members for a in member_accounts(m)} | merchants)
    for account, (amount, created) in bulk.lock_balances(conn, locked).items():
        if not created:  # an account opened just now is opened by the earn that needs it
            book.balances[account] = amount
    book.caps = bulk.lock_caps(conn, sorted(needs.caps))


def _learn(conn: Connection, accounts: set[str], known: dict[str, Asset]) -> None:
    missing = [a for a in accounts if a not in known]
    if missing:
        known.update({r[0]: Asset(r[1]) for r in conn.execute(_ACCOUNTS, {"ids": missing})})
