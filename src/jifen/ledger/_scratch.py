"""``jifen verify``'s scratch file: where the journal's re-derived partial sums and a copy of the
stored caches meet, so that neither has to fit in memory.

A SQLite file in a temporary directory of the verifying machine (never the store: verifying needs
read access only), deleted when the run ends. The walk of the journal drains its partial sums here
(``add``), the store's caches are copied here a page at a time (``copy``), and then each check
streams one sorted join (``balances``, ``lots`` …), a row at a time. SQLite sorts and groups on
disk, in a page cache of its own, so the verifier's memory stays one page and one range however
many members and entries the ledger holds; the file grows with them instead (roughly the size of
the balances, lots and caps tables). Keys sort by code point, as Python sorts strings, whatever
the store's collation.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from jifen.ledger._rederive import LOT_FIGURES, LOT_TERMS, Spill

_FIGURES = ", ".join(LOT_FIGURES)
_SCHEMA = f"""
CREATE TABLE d_account (account TEXT, amount INTEGER, lotless INTEGER);
CREATE TABLE d_lot (lot_id TEXT, {_FIGURES}, released INTEGER, expired_entry INTEGER,
                    earned INTEGER, terms TEXT, value_fen_per_point INTEGER);
CREATE TABLE d_target (entry_id TEXT);
CREATE TABLE d_cap (entry_id TEXT, cap_key TEXT, points INTEGER, cap_limit INTEGER);
CREATE TABLE s_account (account TEXT PRIMARY KEY, kind TEXT, asset TEXT);
CREATE TABLE s_balance (account TEXT, amount INTEGER);
CREATE TABLE s_cap (cap_key TEXT PRIMARY KEY, used INTEGER);
CREATE TABLE s_lot (lot_id TEXT PRIMARY KEY, {", ".join(LOT_TERMS)}, status TEXT, {_FIGURES});
"""
_SUMS = f"""
CREATE INDEX ix_target ON d_target (entry_id);
CREATE TABLE account_sum AS
  SELECT account, SUM(stored) AS stored, SUM(derived) AS derived, SUM(lotless) AS lotless,
         MAX(is_derived) AS is_derived
  FROM (SELECT account, 0 AS stored, amount AS derived, lotless, 1 AS is_derived FROM d_account
        UNION ALL SELECT account, amount, 0, 0, 0 FROM s_balance)
  GROUP BY account;
CREATE UNIQUE INDEX ix_account_sum ON account_sum (account);
CREATE TABLE lot_sum AS
  SELECT lot_id, {", ".join(f"SUM({f}) AS {f}" for f in LOT_FIGURES)},
         MAX(released) AS released, MAX(expired_entry) AS expired_entry, MAX(earned) AS earned,
         MAX(terms) AS terms, MAX(value_fen_per_point) AS value_fen_per_point
  FROM d_lot GROUP BY lot_id;
CREATE UNIQUE INDEX ix_lot_sum ON lot_sum (lot_id);
CREATE TABLE cap_sum AS
  SELECT cap_key, SUM(CASE WHEN EXISTS (SELECT 1 FROM d_target t WHERE t.entry_id = c.entry_id)
                      THEN 0 ELSE points END) AS derived, MAX(cap_limit) AS cap_limit
  FROM d_cap c GROUP BY cap_key;
CREATE UNIQUE INDEX ix_cap_sum ON cap_sum (cap_key);
"""
_DERIVED_LOT = f"""{", ".join(f"d.{f}" for f in LOT_FIGURES)}, d.released, d.expired_entry,
  d.earned AND EXISTS (SELECT 1 FROM d_target t WHERE t.entry_id = d.lot_id), d.terms"""


class Scratch:
    """One verification's scratch file; use as a context manager (the file goes with it)."""

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="jifen-verify-", dir=directory)
        self.db = sqlite3.connect(Path(self._dir.name) / "scratch.db", isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "temp_store = FILE"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()
        self._dir.cleanup()

    def add(self, spill: Spill) -> None:
        """Partial sums drained from the replay."""
        self.db.executemany("INSERT INTO d_account VALUES (?, ?, ?)", spill.accounts)
        self.db.executemany(f"INSERT INTO d_lot VALUES ({_marks(13)})", spill.lots)
        self.db.executemany("INSERT INTO d_target VALUES (?)", spill.targets)
        self.db.executemany("INSERT INTO d_cap VALUES (?, ?, ?, ?)", spill.capped)

    def copy(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """A page of a stored cache: ``s_account``, ``s_balance``, ``s_cap`` or ``s_lot``."""
        rows = list(rows)
        if rows:
            self.db.executemany(f"INSERT INTO {table} VALUES ({_marks(len(rows[0]))})", rows)

    def sum_up(self) -> None:
        """Add the partial sums up, key by key, beside the stored caches."""
        self.db.executescript(_SUMS)

    def lotless(self) -> Iterator[tuple[str, int]]:
        yield from self.db.execute(
            "SELECT account, lotless FROM account_sum WHERE lotless > 0 ORDER BY account"
        )

    def caps(self) -> Iterator[tuple[str, int, int, int | None]]:
        """(cap key, stored, derived, most generous limit) over stored and derived keys."""
        yield from self.db.execute(
            """SELECT cap_key, SUM(used), SUM(derived), MAX(cap_limit) FROM (
                 SELECT cap_key, used, 0 AS derived, NULL AS cap_limit FROM s_cap
                 UNION ALL SELECT cap_key, 0, derived, cap_limit FROM cap_sum)
               GROUP BY cap_key ORDER BY cap_key"""
        )

    def balances(self) -> Iterator[tuple[str, int, int, str | None, str | None]]:
        """(account, stored, derived, registered kind and asset) over every account."""
        yield from self.db.execute(
            """SELECT b.account, b.stored, b.derived, a.kind, a.asset FROM account_sum b
               LEFT JOIN s_account a ON a.account = b.account ORDER BY b.account"""
        )

    def stored_lots(self) -> Iterator[tuple[Any, ...]]:
        """Each stored lot (terms, status, figures) with its derived twin's columns (or NULLs)."""
        yield from self.db.execute(
            f"""SELECT s.*, d.lot_id IS NOT NULL, {_DERIVED_LOT}
                FROM s_lot s LEFT JOIN lot_sum d ON d.lot_id = s.lot_id ORDER BY s.lot_id"""
        )

    def missing_lots(self) -> Iterator[str]:
        """Lots an earn entry opened that are not stored."""
        for (lot_id,) in self.db.execute(
            """SELECT lot_id FROM lot_sum d WHERE terms IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM s_lot s WHERE s.lot_id = d.lot_id) ORDER BY lot_id"""
        ):
            yield lot_id

    def liability_fen(self) -> int:
        """The value of the points left in every lot whose earn was not reversed."""
        total = 0
        for (value,) in self.db.execute(
            """SELECT (pending + available) * value_fen_per_point FROM lot_sum d
               WHERE value_fen_per_point != 0 AND NOT (earned AND EXISTS (
                 SELECT 1 FROM d_target t WHERE t.entry_id = d.lot_id))"""
        ):
            total += value  # in Python: no 64-bit overflow, however many lots
        return total

    def derived_balance(self, account: str) -> int:
        row = self.db.execute(
            "SELECT derived FROM account_sum WHERE account = ?", (account,)
        ).fetchone()
        return int(row[0]) if row else 0


def _marks(n: int) -> str:
    return ", ".join("?" * n)
