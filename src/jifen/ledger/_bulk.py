"""Bulk writes for the ledger's batches: one statement on PostgreSQL, plain statements elsewhere.

A batch writes rows into several tables (block, entries, legs, lots, balances, lane tip). On
PostgreSQL the set goes out as **one** statement: data-modifying CTEs, each inserting or updating
from ``unnest`` of one array per column (large inserts go by COPY just before it). One round trip
instead of one per table or per row: that is what lets single-operation commits approach pgbench
and batched ingestion outrun it (docs/benchmark.md). The statement text depends only on which
tables a batch touches, so psycopg prepares the few variants once per connection. SQLite,
in-process, takes the ordinary SQLAlchemy statements one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from jifen.ledger import _tables as t

Row = dict[str, Any]
COPY_MIN_ROWS = 64
"""Inserts this large go by COPY (cheapest per row); smaller ones ride in the one statement."""


@dataclass
class Writes:
    """Rows to write in one go. ``add_to_balances`` entries are (account, bucket, amount) and
    must name each (account, bucket) once: the caller aggregates."""

    inserts: list[tuple[Table, Sequence[Row]]] = field(default_factory=list)
    updates: list[tuple[Table, str, Sequence[Row]]] = field(default_factory=list)
    add_to_balances: Sequence[tuple[str, int, int]] = ()
    missing_only: list[tuple[Table, Sequence[Row]]] = field(default_factory=list)

    def insert(self, table: Table, rows: Sequence[Row]) -> Writes:
        if rows:
            self.inserts.append((table, rows))
        return self

    def update(self, table: Table, key: str, rows: Sequence[Row]) -> Writes:
        if rows:
            self.updates.append((table, key, rows))
        return self

    def insert_missing(self, table: Table, rows: Sequence[Row]) -> Writes:
        """Insert rows whose primary key is not there yet (opening accounts is idempotent)."""
        if rows:
            self.missing_only.append((table, rows))
        return self


def execute(conn: Connection, writes: Writes) -> None:
    if conn.dialect.name == "postgresql":
        _execute_pg(conn, writes)
    else:
        _execute_each(conn, writes)


def _execute_each(conn: Connection, writes: Writes) -> None:
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    for table, rows in writes.missing_only:
        conn.execute(insert(table).on_conflict_do_nothing(), list(rows))
    for table, rows in writes.inserts:
        conn.execute(table.insert(), list(rows))
    for table, key, rows in writes.updates:
        columns = [c for c in rows[0] if c != key]
        conn.execute(
            update(table)
            .where(table.c[key] == bindparam(f"b_{key}"))
            .values({c: bindparam(f"b_{c}") for c in columns}),
            [{f"b_{c}": v for c, v in row.items()} for row in rows],
        )
    if writes.add_to_balances:
        stmt = insert(t.balances)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["account_id", "bucket"],
                set_={"amount": t.balances.c.amount + stmt.excluded.amount},
            ),
            [{"account_id": a, "bucket": b, "amount": d} for a, b, d in writes.add_to_balances],
        )


def _copy(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    columns = list(rows[0])
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    except dbapi_error as exc:  # the same exception types as every other statement raises
        raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc


@cache
def _cast(table: Table, column: str, dialect: Dialect) -> str:
    return f"%s::{table.c[column].type.compile(dialect)}[]"


def _execute_pg(conn: Connection, writes: Writes) -> None:
    parts: list[str] = []
    params: list[Any] = []

    def arrays(table: Table, columns: Sequence[str], rows: Sequence[Row]) -> str:
        params.extend([row[c] for row in rows] for c in columns)
        return ", ".join(_cast(table, c, conn.dialect) for c in columns)

    for table, rows in writes.inserts:
        if len(rows) >= COPY_MIN_ROWS:
            _copy(conn, table, rows)

    for table, rows in writes.missing_only:
        cols = list(rows[0])
        parts.append(
            f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT * FROM "
            f"unnest({arrays(table, cols, rows)}) ON CONFLICT DO NOTHING"
        )
    for table, rows in writes.inserts:
        if len(rows) >= COPY_MIN_ROWS:
            continue
        cols = list(rows[0])
        parts.append(
            f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT * FROM "
            f"unnest({arrays(table, cols, rows)})"
        )
    for table, key, rows in writes.updates:
        cols = [key, *(c for c in rows[0] if c != key)]
        sets = ", ".join(f"{c} = u.{c}" for c in cols[1:])
        parts.append(
            f"UPDATE {table.name} SET {sets} FROM unnest({arrays(table, cols, rows)}) "
            f"AS u({', '.join(cols)}) WHERE {table.name}.{key} = u.{key}"
        )
    if writes.add_to_balances:
        rows = [{"account_id": a, "bucket": b, "amount": d} for a, b, d in writes.add_to_balances]
        parts.append(
            "INSERT INTO balances (account_id, bucket, amount) SELECT * FROM "
            f"unnest({arrays(t.balances, ['account_id', 'bucket', 'amount'], rows)}) "
            "ON CONFLICT (account_id, bucket) DO UPDATE SET amount = balances.amount + "
            "excluded.amount"
        )
    if not parts:
        return
    *ctes, last = parts
    sql = (
        "WITH " + ", ".join(f"w{n} AS ({part})" for n, part in enumerate(ctes)) + " " + last
        if ctes
        else last
    )
    conn.exec_driver_sql(sql, tuple(params))


def lock_balances(conn: Connection, account_ids: Sequence[str]) -> dict[str, tuple[int, bool]]:
    """Lock the bucket-0 balance rows of ``account_ids`` (in the order given) and return
    ``{account: (amount, created)}``, creating missing rows at zero.

    One statement takes every lock a batch needs up front, in one order for all writers, so no
    two writers can each hold what the other waits for. ``created`` tells the caller which
    accounts did not exist before (a refusal rolls the creation back).
    """
    if not account_ids:
        return {}
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "INSERT INTO balances (account_id, bucket, amount) "
            "SELECT a, 0, 0 FROM unnest(%s::text[]) WITH ORDINALITY AS u(a, n) ORDER BY n "
            "ON CONFLICT (account_id, bucket) DO UPDATE SET amount = balances.amount "
            "RETURNING account_id, amount, (xmax = 0) AS created",
            (list(account_ids),),
        )
        return {r[0]: (r[1], r[2]) for r in rows}
    existing = {
        r[0]: r[1]
        for r in conn.execute(
            select(t.balances.c.account_id, t.balances.c.amount).where(
                t.balances.c.account_id.in_(list(account_ids)), t.balances.c.bucket == 0
            )
        )
    }
    missing = [
        {"account_id": a, "bucket": 0, "amount": 0} for a in account_ids if a not in existing
    ]
    if missing:
        conn.execute(t.balances.insert(), missing)
    return {a: (existing.get(a, 0), a not in existing) for a in account_ids}


def lock_caps(conn: Connection, cap_keys: Sequence[str]) -> dict[str, int]:
    """Lock the rows of ``cap_keys`` (in the order given), creating missing ones at zero, and
    return the points counted against each: the same one-statement, one-order locking as
    ``lock_balances``, taken after it."""
    if not cap_keys:
        return {}
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "INSERT INTO caps (cap_key, used) "
            "SELECT k, 0 FROM unnest(%s::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n "
            "ON CONFLICT (cap_key) DO UPDATE SET used = caps.used "
            "RETURNING cap_key, used",
            (list(cap_keys),),
        )
        return {r[0]: int(r[1]) for r in rows}
    existing = {
        r[0]: int(r[1])
        for r in conn.execute(
            select(t.caps.c.cap_key, t.caps.c.used).where(t.caps.c.cap_key.in_(list(cap_keys)))
        )
    }
    missing = [{"cap_key": k, "used": 0} for k in cap_keys if k not in existing]
    if missing:
        conn.execute(t.caps.insert(), missing)
    return {k: existing.get(k, 0) for k in cap_keys}
