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
from itertools import islice
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


EXPECTED_S = {
    "tests/test_funds_e2e.py::": 210.0,
    "tests/test_quickstart.py::test_the_readme_quickstart": 145.0,
    "tests/test_concurrency.py::": 60.0,
    "tests/test_ledger_stateful.py::TestLedgerStatefulPostgreSQL": 60.0,  # measured -n0 here
    "tests/test_ledger_stateful.py::TestLedgerStatefulSQLite": 30.0,
    "tests/test_docs_shell.py::test_the_shell_examples_of_a_page_run_in_order[lab.md]": 55.0,
    "tests/test_docs_shell.py::test_the_shell_examples_of_a_page_run_in_order[reconcil": 35.0,
    "tests/test_docs_shell.py::test_the_shell_examples_of_a_page_run_in_order": 20.0,
}
"""Seconds the longest tests take (CI's ``--durations``, unless marked), by node id prefix (the
first match counts); any other ``slow`` test counts as ``SLOW_S``. Only the order of the run
depends on them: a new long test belongs here (or under ``@pytest.mark.slow``)."""
SLOW_S = 30.0


def _expected_s(item: pytest.Item) -> float:
    for prefix, seconds in EXPECTED_S.items():
        if item.nodeid.startswith(prefix):
            return seconds
    return SLOW_S if item.get_closest_marker("slow") else 0.0


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the long tests start first, shared out evenly between the workers.

    ``--dist worksteal`` (pyproject.toml) first hands each of the N workers one Nth of the
    tests, in order, and a worker that runs out takes the back half of the longest queue. So the
    tests are laid out as N blocks of that size, each starting with its share of the long tests
    (dealt longest first, each to the block with the least so far) and filled with the others in
    their order: every worker starts on long tests at once, the short ones end the run and are
    the ones passed around, and no four-minute test starts last beside an idle worker. Without
    xdist (``-n0``) the order is pytest's own."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2:
        return
    long = sorted((i for i in items if _expected_s(i) > 0), key=_expected_s, reverse=True)
    short = [i for i in items if _expected_s(i) == 0]  # in pytest's order
    sizes, left = [], len(items)
    for n in range(workers, 0, -1):  # the sizes worksteal hands out: len(pending) // workers left
        sizes.append(left // n)
        left -= sizes[-1]
    blocks: list[list[pytest.Item]] = [[] for _ in sizes]
    load = [0.0] * workers
    for item in long:
        open_ = [b for b in range(workers) if len(blocks[b]) < sizes[b]]
        b = min(open_, key=lambda b: load[b])
        blocks[b].append(item)
        load[b] += _expected_s(item)
    rest = iter(short)
    for block, size in zip(blocks, sizes, strict=True):
        block += islice(rest, size - len(block))
    items[:] = [item for block in blocks for item in block]


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
