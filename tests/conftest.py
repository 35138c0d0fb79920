"""Shared fixtures: every store test runs on SQLite and, when JIFEN_TEST_PG is set, on PostgreSQL.

Each PostgreSQL test gets a schema of its own (dropped afterwards) inside the JIFEN_TEST_PG
database, selected through the URL's ``options=-csearch_path=...`` so that subprocesses given
the URL see the same schema. If JIFEN_TEST_PG is set but the server is unreachable the whole run
fails: CI must never turn a missing database into a silent skip.

Both halves keep commits off the disk, because waiting for it is most of the suite's time and none
of its checks: a SQLite commit waits for an fsync (about 3 ms on CI's disk, and the suite commits
hundreds of thousands of times), a PostgreSQL one for the server's WAL flush (6 to 15 ms). So the
run's temporary folder, where every SQLite store, page run and virtual environment of the suite
lives, is in memory (``/dev/shm``) unless ``TMPDIR`` names another; and each PostgreSQL test's
connections run with ``synchronous_commit=off``. What a commit means to every other connection and
process is unchanged (the same locks, isolation and visibility; the store's own pragmas, WAL and
``synchronous=FULL``, are set as in production): only a power cut (or a PostgreSQL server crash)
could lose the last commits, and no test makes one; ``tests/test_crash.py`` kills processes, whose
writes the kernel keeps either way. A test marked ``pg_durable`` keeps PostgreSQL's synchronous
commits (tests/test_concurrency.py: its writers contend while their commits are being flushed).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from jifen.ledger import Ledger
from jifen.store import normalize_url

PG_URL = os.environ.get("JIFEN_TEST_PG")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


RAM_TMP = Path("/dev/shm")


def pytest_configure(config: pytest.Config) -> None:
    """The temporary folder in memory (see the module's docstring); pytest picks its base folder
    from ``TMPDIR`` (once, when the first test or xdist worker asks), and every subprocess of a
    test inherits it."""
    if "TMPDIR" not in os.environ and RAM_TMP.is_dir() and os.access(RAM_TMP, os.W_OK):
        os.environ["TMPDIR"] = str(RAM_TMP)
        tempfile.tempdir = None  # tempfile caches its choice: choose again, from TMPDIR


def pytest_sessionstart(session: pytest.Session) -> None:
    if not PG_URL:
        return
    try:
        engine = create_engine(normalize_url(PG_URL))
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect must stop the run, loudly
        pytest.exit(f"JIFEN_TEST_PG={PG_URL} is set but unreachable: {exc}", returncode=3)


def pytest_report_header(config: pytest.Config) -> str:
    return f"jifen store backends: {', '.join(BACKENDS)}"


def _pg_schema_url(schema: str, *, durable: bool = False) -> str:
    """``PG_URL`` with the test's schema first on the search path (and, unless ``durable``,
    commits that do not wait for the WAL flush: see the module's docstring)."""
    sep = "&" if "?" in PG_URL else "?"  # type: ignore[operator]
    options = f"-csearch_path%3D{schema}" + ("" if durable else "%20-csynchronous_commit%3Doff")
    return f"{normalize_url(PG_URL)}{sep}options={options}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty store; the same string works in subprocesses."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jifen.db'}"
        return
    schema = f"jifen_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(
            schema, durable=request.node.get_closest_marker("pg_durable") is not None
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    book = Ledger.open(db_url)
    try:
        yield book
    finally:
        book.engine.dispose()
