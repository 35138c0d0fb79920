"""Opening a store: URL forms, SQLite pragmas, PostgreSQL driver, and migrations.

``./jifen.db`` (SQLite in WAL mode) is the embedded default; PostgreSQL is chosen by a URL such as
``postgresql://user@host/db``. Both run the same Alembic migrations and the same code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import ColumnElement, Engine, create_engine, event, literal, text, true, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from jifen.store.errors import StoreUnavailable

DEFAULT_DB = "./jifen.db"
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_FILE = "sqlite:///"
"""How every embedded store's URL begins (``normalize_url`` writes it); the rest is the file."""
SQLITE_MEMORY = "sqlite:///:memory:"


RETRYABLE_SQLSTATES = {"40001", "40P01"}
"""Serialization failure and deadlock: the transaction is rolled back and run again."""


def retryable(exc: DBAPIError) -> bool:
    """Deadlocks, serialization failures, a busy SQLite, the same key inserted concurrently
    (the retry reads what the other writer stored, and replays or refuses), and a connection
    the server dropped (the pool has been invalidated; the retry takes a fresh one)."""
    if isinstance(exc, IntegrityError) or exc.connection_invalidated:
        return True
    return getattr(
        exc.orig, "sqlstate", None
    ) in RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig)


def normalize_url(db: str | None) -> str:
    """``./x.db`` or ``sqlite:///x.db`` → SQLite; ``postgresql://`` → SQLAlchemy's psycopg 3 URL."""
    db = db or os.environ.get("JIFEN_DB") or DEFAULT_DB
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if db.startswith(prefix):
            return "postgresql+psycopg://" + db[len(prefix) :]
    if "://" in db:
        return db
    return f"{SQLITE_FILE}{db}"


def sqlite_path(url: str) -> Path | None:
    """The file an embedded store is kept in (``sqlite:///x.db`` → ``x.db``), from a normalized
    URL; ``None`` for a server store (PostgreSQL) and an in-memory SQLite (``sqlite:///:memory:``,
    ``sqlite:///``), which have no file. The one place that reads a file name out of a store URL:
    the CLI, the secret file beside a store and the demo all ask it."""
    if not url.startswith(SQLITE_FILE) or url == SQLITE_MEMORY:
        return None
    name = url.removeprefix(SQLITE_FILE)
    return Path(name) if name else None


def require_existing(db: str | None, *, what: str = "store") -> str:
    """The normalized URL of a store a command reads or runs on, which must exist already:
    opening a missing SQLite file would create an empty store and report on nothing, so it is
    refused (``store.unavailable``) naming the file; ``what`` is the noun the message uses
    ("store", or "ledger" for ``jifen verify``). A server store is checked when it is reached."""
    url = normalize_url(db)
    if url.startswith(SQLITE_FILE) and not ((path := sqlite_path(url)) and path.exists()):
        raise StoreUnavailable(
            f"no {what} at {url.removeprefix(SQLITE_FILE)} (run `jifen demo` first; 账本不存在)"
        )
    return url


def _sqlite_setup(engine: Engine) -> None:
    """WAL, a long busy timeout, FULL sync; writers BEGIN IMMEDIATE (see ``writer``)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(_SQLITE_BEGIN, 'DEFERRED')}")


_SQLITE_BEGIN = "jifen_sqlite_begin"


def writer(engine: Engine) -> Engine:
    """The engine to write with: on SQLite its transactions take the write lock when they
    begin (BEGIN IMMEDIATE), so writers queue instead of failing to upgrade a read lock; on
    PostgreSQL they are READ COMMITTED transactions. Reads use the plain engine and never wait
    for writers (SQLite: WAL; PostgreSQL: autocommit, see ``make_engine``)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="READ COMMITTED")
    return engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})


def make_engine(db: str | None = None, **kwargs: Any) -> Engine:
    url = normalize_url(db)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine)
    else:
        # Reads run in autocommit: no BEGIN and no ROLLBACK around a SELECT (each statement of
        # a READ COMMITTED transaction takes its own snapshot anyway, so a reader sees nothing
        # different); writes get their transactions from ``writer``, and a reader that needs
        # one snapshot asks for REPEATABLE READ on its connection (``jifen verify``). No ping
        # before each checkout: a connection the server dropped fails its first statement, the
        # pool is invalidated, and ``retryable`` has the unit of work run again.
        kwargs.setdefault("isolation_level", "AUTOCOMMIT")
        engine = create_engine(url, **kwargs)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to run on every start)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with writer(engine).begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except (OperationalError, DBAPIError) as exc:
        raise StoreUnavailable(f"cannot open the store {engine.url!r}: {_first_line(exc)}") from exc


def ping(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except (OperationalError, DBAPIError) as exc:
        raise StoreUnavailable(
            f"cannot reach the store {engine.url!r}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def after_key(
    columns: Sequence[ColumnElement[Any]],
    key: Sequence[Any] | None,
    *,
    newest_first: bool,
) -> ColumnElement[bool]:
    """Rows after ``key`` in a list sorted by ``columns``, all descending (``newest_first``) or
    all ascending: one row-value comparison, which PostgreSQL and SQLite answer from an index."""
    if key is None:
        return true()
    values = tuple_(*(literal(v, c.type) for c, v in zip(columns, key, strict=True)))
    row = tuple_(*columns)
    return row < values if newest_first else row > values
