"""Bulk writes for the ledger's batches: COPY and ``unnest`` on PostgreSQL, executemany elsewhere.

A batch of 1,000 earns writes thousands of rows. Sent as one statement per row (even pipelined)
the server parses and plans each one; COPY and a single ``unnest`` statement do the same work in
one round trip each, which is what lets batched ingestion outrun pgbench (docs/benchmark.md).
The ``unnest`` statements are fixed strings, so psycopg prepares them once per connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from jifen.store import tables as t

COPY_MIN_ROWS = 8
"""Below this a plain INSERT beats COPY's extra round trips."""


def _pg(conn: Connection, rows: Sequence[Any], min_rows: int = 1) -> bool:
    return conn.dialect.name == "postgresql" and len(rows) >= min_rows


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows to an insert-only table (journal, lots)."""
    if not rows:
        return
    if not _pg(conn, rows, COPY_MIN_ROWS):
        conn.execute(table.insert(), list(rows))
        return
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


def add_to_balances(conn: Connection, deltas: Sequence[tuple[str, int, int]]) -> None:
    """balance[account, bucket] += amount for each (account, bucket, amount); rows created if new.

    Each (account, bucket) must appear once: the caller aggregates first.
    """
    if not deltas:
        return
    if _pg(conn, deltas):
        accounts, buckets, amounts = (list(col) for col in zip(*deltas, strict=True))
        conn.exec_driver_sql(
            "INSERT INTO balances (account_id, bucket, amount) "
            "SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[]) "
            "ON CONFLICT (account_id, bucket) DO UPDATE SET amount = balances.amount + "
            "excluded.amount",
            (accounts, buckets, amounts),
        )
        return
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    stmt = insert(t.balances)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "bucket"],
            set_={"amount": t.balances.c.amount + stmt.excluded.amount},
        ),
        [{"account_id": a, "bucket": b, "amount": d} for a, b, d in deltas],
    )


def insert_missing(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows whose primary key is not there yet (opening accounts is idempotent)."""
    if not rows:
        return
    if _pg(conn, rows):
        columns = list(rows[0])
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"SELECT * FROM unnest({_arrays(conn, table, columns)}) ON CONFLICT DO NOTHING",
            tuple([row[c] for row in rows] for c in columns),
        )
        return
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    conn.execute(insert(table).on_conflict_do_nothing(), list(rows))


def _arrays(conn: Connection, table: Table, columns: Sequence[str]) -> str:
    """``%s::text[], %s::bigint[], ...``: one typed array parameter per column, for unnest."""
    return ", ".join(f"%s::{table.c[c].type.compile(conn.dialect)}[]" for c in columns)


def update_rows(conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Set columns of existing rows by key (the lots cache after releases, refunds, expiries)."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    if _pg(conn, rows):
        sets = ", ".join(f"{c} = u.{c}" for c in columns)
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {sets} FROM unnest({_arrays(conn, table, [key, *columns])}) "
            f"AS u({key}, "
            f"{', '.join(columns)}) WHERE {table.name}.{key} = u.{key}",
            tuple([row[c] for row in rows] for c in [key, *columns]),
        )
        return
    conn.execute(
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({c: bindparam(f"b_{c}") for c in columns}),
        [{f"b_{c}": v for c, v in row.items()} for row in rows],
    )
