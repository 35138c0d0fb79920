"""Creating and replacing stores for ``jifen demo`` and ``jifen init``: the one place that
decides whether a store is in use, and that creates a PostgreSQL database when it is missing.

A store is **in use** when its SQLite file exists, or when its PostgreSQL database holds a
ledger (the ``entries`` table); neither command ever writes into one unless told to replace it
(``--force``), and replacing a PostgreSQL store drops Jifen's own tables only, nothing else in
the database.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

import jifen.ledger  # noqa: F401  (its tables join ``metadata``, so replace_store drops them too)
from jifen.store import StoreUnavailable, make_engine, ping, sqlite_path
from jifen.store import tables as t

__all__ = ["ensure_database", "replace_store", "store_in_use"]

MAINTENANCE_DB = "postgres"
"""The database a PostgreSQL server always has, where ``CREATE DATABASE`` is run from."""
SQLITE_SUFFIXES = ("", "-wal", "-shm")


def store_in_use(url: str) -> str | None:
    """What makes the store at ``url`` (normalized) in use, said for a person; None if it is
    free. A PostgreSQL database that does not exist yet is free."""
    path = sqlite_path(url)
    if path is not None:
        return f"{path} already holds a store" if path.exists() else None
    if url.startswith("sqlite"):
        return None  # in memory
    if not _database_exists(url):
        return None
    engine = make_engine(url)
    try:
        ping(engine)
        used = inspect(engine).has_table("entries")
    finally:
        engine.dispose()
    return "this PostgreSQL database already holds a ledger" if used else None


def replace_store(url: str) -> None:
    """Remove the store at ``url``: a SQLite file (with its ``-wal`` and ``-shm``), or Jifen's
    tables in a PostgreSQL database (the database and anything else in it stay)."""
    path = sqlite_path(url)
    if path is not None:
        for suffix in SQLITE_SUFFIXES:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if url.startswith("sqlite") or not _database_exists(url):
        return
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            t.metadata.drop_all(conn, checkfirst=True)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names if the server has none by that name and lets
    this user create it (from the ``postgres`` maintenance database); True if it was created.
    A SQLite store needs nothing (its file is created when it opens)."""
    if url.startswith("sqlite") or _database_exists(url):
        return False
    target = make_url(url)
    name = target.database or ""
    admin = create_engine(target.set(database=MAINTENANCE_DB), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(name)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
    except (OperationalError, DBAPIError) as exc:
        raise StoreUnavailable(
            f"database {name!r} does not exist and could not be created: {_first_line(exc)} "
            f"(ask the server's administrator to run CREATE DATABASE {name}; 无法创建数据库)"
        ) from exc
    finally:
        admin.dispose()
    return True


def _database_exists(url: str) -> bool:
    """Whether the PostgreSQL server has the database ``url`` names. When it cannot be reached,
    the ``postgres`` maintenance database is asked; a server that answers neither (down, wrong
    password) is reported as it is."""
    engine = make_engine(url)
    try:
        ping(engine)
        return True
    except StoreUnavailable as unreachable:
        target = make_url(url)
        admin = create_engine(target.set(database=MAINTENANCE_DB))
        try:
            with admin.connect() as conn:
                found = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"),
                    {"name": target.database},
                ).first()
        except (OperationalError, DBAPIError):
            raise unreachable from None
        finally:
            admin.dispose()
        if found is not None:  # it exists: the first failure was something else
            raise
        return False
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
