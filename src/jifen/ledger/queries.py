"""Reading the ledger: every question another package asks of the journal, the lots and the
balances, answered in plain values. Only ``jifen.ledger`` knows its tables and how account ids
are spelled; callers ask here and never write SQL against them.

Each function takes the caller's connection (a unit of work's, or a fresh one), so a read inside
a write sees that write. Lists take a decoded sort key to continue after (``after``), compared
as one row value, and a bound.

Why this module is long: it is the one public face of every read of the ledger; the journal's
reads (``_journal``) and a liability snapshot's (``_liabilities``) live in modules of their own
and are only re-exported here, one line each.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, or_, select, true

from jifen.ledger import _tables as t
from jifen.ledger._journal import AccountRow as AccountRow
from jifen.ledger._journal import (  # the journal as an auditor reads it: a module of its own
    BlockRow as BlockRow,
)
from jifen.ledger._journal import JournalEntry as JournalEntry
from jifen.ledger._journal import accounts as accounts
from jifen.ledger._journal import blocks as blocks
from jifen.ledger._journal import blocks_until as blocks_until
from jifen.ledger._journal import chain_tips as chain_tips
from jifen.ledger._journal import journal as journal
from jifen.ledger._journal import journal_entry as journal_entry
from jifen.ledger._journal import journal_until as journal_until
from jifen.ledger._journal import stored_balances as stored_balances
from jifen.ledger._liabilities import (  # what a liability snapshot reads: a module of its own
    block_hash_at as block_hash_at,
)
from jifen.ledger._liabilities import member_outstanding as member_outstanding
from jifen.ledger._liabilities import point_totals as point_totals
from jifen.ledger._rows import lot_from_row
from jifen.ledger.lots import Lot
from jifen.ledger.model import (
    RESERVE,
    accepted_account,
    available_account,
    owner_id,
    pending_account,
)
from jifen.store import after_key

LIVE = or_(t.lots.c.pending > 0, t.lots.c.available > 0)
"""A lot with points left in it (pending or available): outstanding until spent or expired."""

LIFECYCLE_ORDER = {"earn": 0, "release": 1, "redeem": 2, "refund": 3, "void": 3, "reverse": 4}
"""Entries of one member at the same instant (one batch, or a simulated clock standing still)
happened in their lifecycle's order: points are earned, then released, then spent, then
refunded, then corrected; expiry comes last (rank 5)."""
MAX_HISTORY_LEGS = 10_000
"""Most legs one history page reads (a page of 100 entries has at most a few hundred)."""


def has_entries(conn: Connection) -> bool:
    return conn.execute(select(t.entries.c.entry_id).limit(1)).first() is not None


def first_entry_at(conn: Connection) -> datetime | None:
    at: datetime | None = conn.execute(select(func.min(t.entries.c.at))).scalar_one()
    return at


# -- members ---------------------------------------------------------------------------------------


def live_lots(conn: Connection, member_id: str) -> list[Lot]:
    """The member's lots with points left, earliest expiry first."""
    rows = conn.execute(
        select(t.lots)
        .where(t.lots.c.member_id == member_id, LIVE)
        .order_by(t.lots.c.expires_at, t.lots.c.paid_at)
    )
    return [lot_from_row(r) for r in rows]


def lots_by_id(conn: Connection, lot_ids: Sequence[str]) -> dict[str, Lot]:
    """The lots named (a job's batch, at most ``MAX_BATCH`` of them), by id."""
    if not lot_ids:
        return {}
    rows = conn.execute(select(t.lots).where(t.lots.c.lot_id.in_(list(lot_ids))))
    return {r.lot_id: lot_from_row(r) for r in rows}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One entry's effect on a member: its change to pending and to available points."""

    entry_id: str
    at: datetime
    kind: str
    rank: int  # LIFECYCLE_ORDER: part of the sort key
    pending_points: int
    available_points: int


def member_history(
    conn: Connection, member_id: str, *, after: Sequence[Any] | None, limit: int
) -> list[HistoryEntry]:
    """The member's entries newest first (at, lifecycle rank, entry id), at most ``limit``, after
    the sort key ``after``."""
    pending, available = pending_account(member_id), available_account(member_id)
    rank = case(LIFECYCLE_ORDER, value=t.entries.c.kind, else_=5)
    sort = [t.entries.c.at, rank, t.entries.c.entry_id]
    query = (
        select(
            t.entries.c.entry_id,
            t.entries.c.at,
            t.entries.c.kind,
            rank.label("rank"),
            t.legs.c.account_id,
            t.legs.c.amount,
        )
        .join(t.legs, t.legs.c.entry_id == t.entries.c.entry_id)
        .where(
            t.legs.c.account_id.in_([pending, available]),
            after_key(sort, after, newest_first=True),
        )
        .order_by(*(c.desc() for c in sort))
        .limit(MAX_HISTORY_LEGS)
    )
    found: dict[str, list[Any]] = {}
    for row in conn.execute(query):
        if row.entry_id not in found and len(found) == limit:
            break
        line = found.setdefault(row.entry_id, [row.at, row.kind, int(row.rank), 0, 0])
        line[3 if row.account_id == pending else 4] += int(row.amount)
    return [HistoryEntry(entry_id, *line) for entry_id, line in found.items()]


def expiring(
    conn: Connection, after: datetime, until: datetime
) -> list[tuple[str, str, int, datetime]]:
    """(member, lot, points left, expires_at) of live lots expiring in ``(after, until]``, by
    member then expiry: what the expiry reminders tell."""
    rows = conn.execute(
        select(
            t.lots.c.member_id,
            t.lots.c.lot_id,
            t.lots.c.available + t.lots.c.pending,
            t.lots.c.expires_at,
        )
        .where(LIVE, t.lots.c.expires_at > after, t.lots.c.expires_at <= until)
        .order_by(t.lots.c.member_id, t.lots.c.expires_at)
    )
    return [(m, lot, int(points), at) for m, lot, points, at in rows]


# -- merchants -------------------------------------------------------------------------------------


def merchant_lots(
    conn: Connection, merchant_id: str, *, after: Sequence[Any] | None, limit: int
) -> list[Lot]:
    """The merchant's orders' lots, newest paid first (paid_at, lot id)."""
    sort = [t.lots.c.paid_at, t.lots.c.lot_id]
    rows = conn.execute(
        select(t.lots)
        .where(t.lots.c.merchant_id == merchant_id, after_key(sort, after, newest_first=True))
        .order_by(*(c.desc() for c in sort))
        .limit(limit)
    )
    return [lot_from_row(r) for r in rows]


def merchant_redemptions(
    conn: Connection, merchant_id: str, *, after: Sequence[Any] | None, limit: int
) -> list[tuple[str, datetime]]:
    """(entry id, at) of the redemptions the merchant accepted, newest first."""
    sort = [t.entries.c.at, t.entries.c.entry_id]
    rows = conn.execute(
        select(t.entries.c.entry_id, t.entries.c.at)
        .join(t.legs, t.legs.c.entry_id == t.entries.c.entry_id)
        .where(
            t.entries.c.kind == "redeem",
            t.legs.c.account_id == accepted_account(merchant_id),
            after_key(sort, after, newest_first=True),
        )
        .order_by(*(c.desc() for c in sort))
        .limit(limit)
    )
    return [(entry_id, at) for entry_id, at in rows]


@dataclass(frozen=True, slots=True)
class MerchantMovement:
    """What entries of one kind booked at one instant did to one merchant: money on its account
    (fen, + to the merchant), points it accepted, points its orders issued."""

    at: datetime
    merchant_id: str
    kind: str
    fen: int = 0
    points_accepted: int = 0
    points_issued: int = 0


def _movement_queries(start: datetime, end: datetime) -> tuple[Select[Any], Select[Any]]:
    """(money and points accepted by merchant account, points issued by merchant) booked in
    ``[start, end)``, grouped by instant and kind; settlements left out."""
    booked = and_(t.entries.c.at >= start, t.entries.c.at < end, t.entries.c.kind != "settle")
    money = (
        select(t.entries.c.at, t.legs.c.account_id, t.entries.c.kind, func.sum(t.legs.c.amount))
        .join(t.entries, t.entries.c.entry_id == t.legs.c.entry_id)
        .where(
            booked,
            t.legs.c.account_id.like("merchant:%"),
            or_(t.legs.c.asset == "CNY", t.legs.c.account_id.like("%:accepted")),
        )
        .group_by(t.entries.c.at, t.legs.c.account_id, t.entries.c.kind)
    )
    issued = (
        select(t.entries.c.at, t.lots.c.merchant_id, func.sum(t.lots.c.points))
        .join(t.entries, t.entries.c.entry_id == t.lots.c.lot_id)
        .where(booked)
        .group_by(t.entries.c.at, t.lots.c.merchant_id)
    )
    return money, issued


def _money_movement(at: datetime, account: str, kind: str, amount: Any) -> MerchantMovement:
    figure = "fen" if account.endswith(":cny") else "points_accepted"
    return MerchantMovement(at, owner_id(account), kind, **{figure: int(amount)})


def merchant_movements(conn: Connection, start: datetime, end: datetime) -> list[MerchantMovement]:
    """Every merchant movement booked in ``[start, end)``, settlements left out (they move a
    statement's net, they are not on one)."""
    money, issued = _movement_queries(start, end)
    found = [_money_movement(*row) for row in conn.execute(money)]
    found += [
        MerchantMovement(at, m, "earn", points_issued=int(p)) for at, m, p in conn.execute(issued)
    ]
    return found


def merchant_movements_in_order(
    conn: Connection, start: datetime, end: datetime, *, page: int = 10_000
) -> Iterator[MerchantMovement]:
    """The movements of ``merchant_movements``, streamed in booking order (by ``at``), ``page``
    rows fetched at a time: what ``jifen verify`` reads to check every closed day, a day at a
    time, never all at once."""
    money, issued = _movement_queries(start, end)
    streamed = conn.execution_options(stream_results=True, yield_per=page)
    yield from heapq.merge(
        (_money_movement(*row) for row in streamed.execute(money.order_by(t.entries.c.at))),
        (
            MerchantMovement(at, m, "earn", points_issued=int(p))
            for at, m, p in streamed.execute(issued.order_by(t.entries.c.at))
        ),
        key=lambda m: m.at,
    )


def settled_fen(conn: Connection, entry_ids: Sequence[str] | None = None) -> dict[str, int]:
    """What each settlement entry (or each of ``entry_ids``) moved from its merchant's money
    account to clearing."""
    named = t.legs.c.entry_id.in_(entry_ids) if entry_ids is not None else true()
    return {
        entry_id: -int(amount)
        for entry_id, amount in conn.execute(
            select(t.legs.c.entry_id, func.sum(t.legs.c.amount))
            .join(t.entries, t.entries.c.entry_id == t.legs.c.entry_id)
            .where(t.entries.c.kind == "settle", t.legs.c.account_id.like("merchant:%"), named)
            .group_by(t.legs.c.entry_id)
        )
    }


# -- the reserve and what it covers ---------------------------------------------------------


def reserve_and_liability(conn: Connection) -> tuple[int, int, int]:
    """(reserve fen, outstanding points, their value in fen) from the stored balances and lots.
    ``jifen verify`` re-derives the same from the journal alone (``_checks.check_reserve``)."""
    reserve = conn.execute(
        select(func.coalesce(func.sum(t.balances.c.amount), 0)).where(
            t.balances.c.account_id == RESERVE
        )
    ).scalar_one()
    left = t.lots.c.pending + t.lots.c.available
    outstanding, liability = conn.execute(
        select(
            func.coalesce(func.sum(left), 0),
            func.coalesce(func.sum(left * t.lots.c.value_fen_per_point), 0),
        )
    ).one()
    return int(reserve), int(outstanding), int(liability)


def outstanding_by_expiry(conn: Connection) -> list[tuple[datetime | None, int, int]]:
    """(expires_at, points left, fen per point) of every live lot."""
    rows = conn.execute(
        select(
            t.lots.c.expires_at,
            t.lots.c.pending + t.lots.c.available,
            t.lots.c.value_fen_per_point,
        ).where(LIVE)
    )
    return [(at, int(points), int(value)) for at, points, value in rows]


def points_gone(conn: Connection) -> tuple[int, int]:
    """(expired, redeemed) over every lot: the history a breakage estimate is drawn from."""
    expired, redeemed = conn.execute(
        select(
            func.coalesce(func.sum(t.lots.c.expired), 0),
            func.coalesce(func.sum(t.lots.c.redeemed), 0),
        )
    ).one()
    return int(expired), int(redeemed)


def orders_paid(
    conn: Connection, start: datetime, end: datetime
) -> list[tuple[str, str, str, int]]:
    """(member, merchant, order ref, amount fen) of every order that earned points and was paid
    in ``[start, end)``: what the large-value lines (brief §7) count per member per day."""
    return [
        (r.member_id, r.merchant_id, r.order_ref, int(r.amount_fen))
        for r in conn.execute(
            select(
                t.lots.c.member_id, t.lots.c.merchant_id, t.lots.c.order_ref, t.lots.c.amount_fen
            )
            .where(t.lots.c.paid_at >= start, t.lots.c.paid_at < end)
            .order_by(t.lots.c.paid_at, t.lots.c.lot_id)
        )
    ]


def lots_paid(
    conn: Connection,
    start: datetime,
    end: datetime,
    *,
    merchant_id: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> list[Lot]:
    """Lots of orders paid in ``[start, end)``, oldest first (paid_at, lot id), after ``after``;
    one merchant's only with ``merchant_id``: what an order export pages through."""
    sort = [t.lots.c.paid_at, t.lots.c.lot_id]
    query = select(t.lots).where(
        t.lots.c.paid_at >= start,
        t.lots.c.paid_at < end,
        after_key(sort, after, newest_first=False),
    )
    if merchant_id is not None:
        query = query.where(t.lots.c.merchant_id == merchant_id)
    return [lot_from_row(r) for r in conn.execute(query.order_by(*sort).limit(limit))]


END_OF_BLOCK = 2**31 - 1
"""A lane position past every entry of its block: (height, END_OF_BLOCK) = the whole block read."""


def earns_after(
    conn: Connection, after: Mapping[int, tuple[int, int]], limit: int
) -> tuple[list[Lot], dict[int, tuple[int, int]]]:
    """The lots of orders whose earn entries come after ``after`` (per lane: the (block height,
    entry seq) read up to; a lane not named: from its start), in journal order, at most
    ``limit``; and the positions read up to, to continue from.

    Only blocks at or below each lane's committed tip are read: a lane's blocks commit in height
    order (its tip is locked until the commit), so nothing can appear later behind a position
    once it was read — a cursor over lanes never skips an order, unlike one over ``paid_at``
    (an order may be recorded late) or over entry times (transactions commit out of order)."""
    e = t.entries.c
    tips = {lane: height for lane, height, _ in chain_tips(conn)}
    where = [
        and_(
            e.chain_id == lane,
            e.height <= tip,
            or_(e.height > at[0], and_(e.height == at[0], e.seq > at[1])),
        )
        for lane, tip in tips.items()
        for at in [after.get(lane, (0, END_OF_BLOCK))]
    ]
    if not where:
        return [], dict(after)
    rows = conn.execute(
        select(t.lots, e.chain_id.label("lane"), e.height.label("at_height"), e.seq.label("at_seq"))
        .join(t.lots, t.lots.c.lot_id == e.entry_id)
        .where(e.kind == "earn", or_(*where))
        .order_by(e.chain_id, e.height, e.seq)
        .limit(limit)
    ).all()
    read = dict(after)
    if len(rows) < limit:  # every lane read up to its tip
        return [lot_from_row(r) for r in rows], {
            lane: (tip, END_OF_BLOCK) for lane, tip in tips.items()
        }
    last = rows[-1]
    for lane, tip in tips.items():
        if lane < last.lane:
            read[lane] = (tip, END_OF_BLOCK)
    read[int(last.lane)] = (int(last.at_height), int(last.at_seq))
    return [lot_from_row(r) for r in rows], read
