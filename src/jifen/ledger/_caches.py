"""``jifen verify``'s second half: the stored caches (balances, lots, caps) against what the
journal says, through the scratch file. The caches are copied there a keyset page at a time; each
check then streams one sorted join, in the order of the rules: lot-less points, caps, balances,
lots, each sorted by its key (as the findings always were).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Column, Connection, select

from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._checks import judge_balance, judge_lot, judge_lotless
from jifen.ledger._rederive import LOT_FIGURES, LOT_TERMS, Derived, Finding, Report
from jifen.ledger._scratch import Scratch
from jifen.ledger.lots import LotStatus
from jifen.ledger.model import AccountKind, Asset, member_account_kind
from jifen.store import after_key


def _time(value: Any) -> str | None:
    return chain.utc_text(value) if value else None


def copy_caches(conn: Connection, scratch: Scratch, size: int) -> None:
    """The stored caches into the scratch file, a keyset page at a time."""
    a, b, c, lots = t.accounts.c, t.balances.c, t.caps.c, t.lots.c
    _copy(conn, scratch, "s_account", [a.account_id], [a.account_id, a.kind, a.asset], size)
    _copy(conn, scratch, "s_balance", [b.account_id, b.bucket], [b.account_id, b.amount], size)
    _copy(conn, scratch, "s_cap", [c.cap_key], [c.cap_key, c.used], size)
    columns = [lots[n] for n in ("lot_id", *LOT_TERMS, "status", *LOT_FIGURES)]
    times = {LOT_TERMS.index(n) + 1 for n in ("paid_at", "release_at", "expires_at")}
    _copy(
        conn,
        scratch,
        "s_lot",
        [lots.lot_id],
        columns,
        size,
        convert=lambda row: tuple(_time(v) if n in times else v for n, v in enumerate(row)),
    )


def _copy(
    conn: Connection,
    scratch: Scratch,
    into: str,
    key: Sequence[Column[Any]],
    columns: Sequence[Column[Any]],
    size: int,
    convert: Any = tuple,
) -> None:
    """Rows of ``columns`` in ``key`` order, ``size`` at a time, each page after the last."""
    after: tuple[Any, ...] | None = None
    while True:
        rows = conn.execute(
            select(*columns, *key)
            .where(after_key(key, after, newest_first=False))
            .order_by(*key)
            .limit(size)
        ).all()
        if not rows:
            return
        scratch.copy(into, [convert(tuple(r)[: len(columns)]) for r in rows])
        after = tuple(rows[-1])[len(columns) :]


def check_caches(report: Report, scratch: Scratch) -> None:
    """Each stored cache against the journal's, in the order of the rules: lot-less points, caps,
    balances, lots; each sorted by its key."""
    for account, amount in scratch.lotless():
        report.add(judge_lotless(account, amount))
    for finding in _cap_findings(scratch):
        report.add(finding)
    for account, stored, derived, kind, asset in scratch.balances():
        registered = (AccountKind(kind), Asset(asset)) if kind and asset else None
        known = (registered or member_account_kind(account) or (None,))[0]
        for finding in judge_balance(account, stored, derived, known):
            report.add(finding)
    for row in scratch.stored_lots():
        for finding in _judge_stored_lot(row):
            report.add(finding)
    for lot_id in scratch.missing_lots():
        report.add(
            Finding("lot.missing", f"earn entry's lot {lot_id} is not stored", entry_id=lot_id)
        )


def _cap_findings(scratch: Scratch) -> Iterator[Finding]:
    """Every cap counts exactly the points of the entries that name it (a reversed redemption
    gives its points back), and none is past the most generous limit any of them was checked
    against (each was checked at its write, under the cap's lock)."""
    for cap_key, stored, derived, _ in scratch.caps():
        if stored != derived:
            yield Finding("cap.mismatch", f"cap {cap_key}: stored {stored}, journal says {derived}")
    for cap_key, _, derived, limit in scratch.caps():
        if limit is not None and derived > limit:
            yield Finding("cap.exceeded", f"cap {cap_key}: {derived} > limit {limit}")


def _judge_stored_lot(row: tuple[Any, ...]) -> list[Finding]:
    """One row of ``Scratch.stored_lots``: the stored lot, then its derived twin."""
    lot_id, n = row[0], len(LOT_TERMS)
    terms = dict(zip(LOT_TERMS, row[1 : n + 1], strict=True))
    status, figures = row[n + 1], row[n + 2 : n + 2 + len(LOT_FIGURES)]
    derived_at = n + 2 + len(LOT_FIGURES)
    derived: Derived | None = None
    if row[derived_at]:
        values = row[derived_at + 1 :]
        m = len(LOT_FIGURES)
        derived = Derived(
            **dict(zip(LOT_FIGURES, values[:m], strict=True)),
            released=bool(values[m]),
            expired_entry=bool(values[m + 1]),
            reversed=bool(values[m + 2]),
            terms=json.loads(values[m + 3]) if values[m + 3] else {},
        )
    stored = {"status": LotStatus(status), **dict(zip(LOT_FIGURES, figures, strict=True))}
    return judge_lot(lot_id, terms, stored, derived)
