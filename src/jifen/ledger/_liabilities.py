"""What a liability snapshot reads (``jifen.proofs``, docs/transparency.md): every member's
outstanding points as a stream, the invariant's figures from the stored balances, and one block's
hash as stored now. Public through ``jifen.ledger.queries``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, func, select

from jifen.ledger import _tables as t
from jifen.ledger.model import CLAWBACK, EXPIRED, ISSUANCE, available_account

_PREFIX = available_account("").index(":") + 1  # "member:"


def block_hash_at(conn: Connection, chain_id: int, height: int) -> str | None:
    """The hash of one block, as stored now (a kept checkpoint is compared against it)."""
    b = t.blocks.c
    found = conn.execute(
        select(b.block_hash).where(b.chain_id == chain_id, b.height == height)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def member_outstanding(conn: Connection, *, page: int = 10_000) -> Iterator[tuple[str, int]]:
    """(member id, pending + available points) of every member with a balance, one member at a
    time and in no particular order, streamed: a million members are never one list here.

    The two accounts of a member are adjacent in byte order of their ids ("member:m1:available",
    "member:m1:pending": ids hold no colon), so the stream is ordered by the binary collation
    (PostgreSQL's "C"; SQLite's default) and summed a member at a time."""
    account = t.balances.c.account_id
    ordered = account.collate("C") if conn.dialect.name == "postgresql" else account
    rows = conn.execution_options(stream_results=True, yield_per=page).execute(
        select(account, func.sum(t.balances.c.amount))
        .where(account.like("member:%"))
        .group_by(account)
        .order_by(ordered)
    )
    current, points = None, 0
    for account_id, amount in rows:
        member = account_id[_PREFIX : account_id.rindex(":")]  # owner_id, without its checks
        if member != current:
            if current is not None:
                yield current, points
            current, points = member, 0
        points += int(amount)
    if current is not None:
        yield current, points


def point_totals(conn: Connection) -> dict[str, int]:
    """The invariant's figures from the stored balances (brief §5): issued, redeemed, expired,
    clawed back, and outstanding = issued − redeemed − expired − clawed back. A liability snapshot
    must add up to this ``outstanding``; ``jifen verify`` re-derives the same from the journal."""
    amount, account = t.balances.c.amount, t.balances.c.account_id

    def total(where: Any) -> int:
        query = select(func.coalesce(func.sum(amount), 0)).where(where)
        return int(conn.execute(query).scalar_one())

    figures = {
        "issued": -total(account == ISSUANCE),
        "redeemed": total(account.like("merchant:%:accepted")),
        "expired": total(account == EXPIRED),
        "clawed_back": total(account == CLAWBACK),
    }
    figures["outstanding"] = (
        figures["issued"] - figures["redeemed"] - figures["expired"] - figures["clawed_back"]
    )
    return figures
