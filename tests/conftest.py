"""Shared fixtures: every store test runs on SQLite and, when JIFEN_TEST_PG is set, on PostgreSQL.

Each PostgreSQL test gets a schema of its own (dropped afterwards) inside the JIFEN_TEST_PG
database, selected through the URL's ``options=-csearch_path=...`` so that subprocesses given
the URL see the same schema. If JIFEN_TEST_PG is set but the server is unreachable the whole run
fails: CI must never turn a missing database into a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from jifen.ledger import Ledger
from jifen.store import normalize_url

PG_URL = os.environ.get("JIFEN_TEST_PG")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


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


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"  # type: ignore[operator]
    return f"{normalize_url(PG_URL)}{sep}options=-csearch_path%3D{schema}"


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
        yield _pg_schema_url(schema)
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
