"""A writer process killed (SIGKILL) in the middle of a batch loses nothing committed and leaves
nothing of the batch it was writing (issue 2, "Done when"); on SQLite and on PostgreSQL.

``tests/writer_proc.py crash`` commits batches of earns (sizes 1, 10, 100, 3, 250) and prints
``COMMITTED <n>`` after each commit. Batch 5 (1,000 earns, the size limit) is paused after every
row of it is written (lots, balances, block, entries, legs, lane tip) but before the commit, and
prints ``PAUSED <entries its own transaction sees>``. The test checks from outside that none of it
is visible, kills the writer, and then checks:

- every batch the writer reported committed is there in full (each key, lot and block), and nothing
  else is: the killed batch left no entry, lot, block or balance change;
- the stored balances equal those the committed batches imply; ``verify`` passes, and so does
  ``jifen verify --db URL`` when the console script is installed;
- the store is usable afterwards: the killed batch, sent again, is applied fresh (not replayed)
  and ``verify`` still passes.

Every wait is bounded: the writer gives up by itself after ``--deadline`` seconds, and the test
kills it on any path out.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Engine, create_engine, event, func, select

from jifen.ledger import Ledger, verify
from jifen.ledger import _tables as t
from jifen.ledger.chain import entry_id_for
from jifen.store import make_engine, migrate, normalize_url
from writer_proc import CRASH_MERCHANT, PAUSE_POINTS, crash_batch, crash_now, crash_size

WRITER = Path(__file__).with_name("writer_proc.py")
PAUSE_AT = 5  # batches 0-4 commit, batch 5 is killed half-way
PAUSE_SIZE = 1000
READY_TIMEOUT = 90.0  # seconds for the writer to commit its batches and pause
CLI_TIMEOUT = 120.0


def _lines(stream: IO[str], sink: queue.Queue[str | None]) -> None:
    for line in stream:
        sink.put(line.rstrip("\n"))
    sink.put(None)


def _bounded(engine: Engine) -> Engine:
    """Make lock waits fail instead of hang (the killed writer's locks must be gone anyway)."""
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _lock_timeout(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("SET lock_timeout = '20s'")
            dbapi_conn.commit()

    return engine


def _jifen_cli() -> str | None:
    """The ``jifen`` console script (next to this interpreter or on PATH), if it can verify."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    cli = shutil.which("jifen", path=path)
    if cli is None:
        return None
    probe = subprocess.run(
        [cli, "verify", "--help"], capture_output=True, text=True, timeout=CLI_TIMEOUT
    )
    return cli if probe.returncode == 0 else None


@pytest.mark.slow
@pytest.mark.parametrize("pause_when", PAUSE_POINTS)
def test_sigkill_in_the_middle_of_a_batch(db_url: str, pause_when: str) -> None:
    engine = _bounded(make_engine(db_url))
    migrate(engine)
    ledger = Ledger(engine)
    ledger.open_merchant(CRASH_MERCHANT)
    paused_keys = [op.key for op in crash_batch(PAUSE_AT, PAUSE_SIZE)]

    proc = subprocess.Popen(
        [
            sys.executable,
            str(WRITER),
            "crash",
            db_url,
            f"--pause-at={PAUSE_AT}",
            f"--pause-size={PAUSE_SIZE}",
            f"--pause-when={pause_when}",
            f"--deadline={READY_TIMEOUT + 30}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    output: list[str] = []
    committed: list[int] = []
    seen_by_writer: tuple[int, ...] = ()
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not seen_by_writer:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("the writer did not pause in time:\n" + "\n".join(output[-30:]))
            if line is None:
                proc.wait(timeout=10)
                pytest.fail(
                    f"the writer exited ({proc.returncode}) before pausing:\n"
                    + "\n".join(output[-30:])
                )
            output.append(line)
            if line.startswith("COMMITTED "):
                committed.append(int(line.split()[1]))
            elif line.startswith("PAUSED "):
                seen_by_writer = tuple(int(n) for n in line.split()[1:])

        # paused inside the transaction: about to commit, every entry and lot is written; after
        # the first write statement, none yet (SQLite writes the block row first) or all (on
        # PostgreSQL an earn-only batch locks no member row up front: its first write is the
        # one statement that writes everything) ...
        if pause_when == "commit":
            assert seen_by_writer == (PAUSE_SIZE, PAUSE_SIZE), output
        else:
            written = PAUSE_SIZE if "postgresql" in db_url else 0
            assert seen_by_writer == (written, written), output
        # ... and none of it is visible outside the transaction. (A plain reader: on SQLite the
        # ledger's own engine opens every transaction with BEGIN IMMEDIATE, so it would queue
        # behind the paused writer instead of reading the last committed state.)
        reader = create_engine(normalize_url(db_url))
        try:
            with reader.connect() as conn:
                visible = conn.execute(
                    select(func.count())
                    .select_from(t.entries)
                    .where(t.entries.c.idem_key.in_(paused_keys))
                ).scalar_one()
            assert visible == 0, "an uncommitted batch is visible to other connections"
            during = verify(reader)
            assert during.ok, [f"{f.where()} [{f.code}] {f.message}" for f in during.findings]
        finally:
            reader.dispose()

        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)

    assert committed == list(range(PAUSE_AT)), output
    batches = {b: crash_batch(b, crash_size(b)) for b in committed}
    expected_keys = {op.key for ops in batches.values() for op in ops}
    pending: Counter[str] = Counter()
    for ops in batches.values():
        for op in ops:
            pending[f"member:{op.member_id}:pending"] += op.points

    with engine.connect() as conn:
        keys = set(conn.execute(select(t.entries.c.idem_key)).scalars())
        lot_ids = set(conn.execute(select(t.lots.c.lot_id)).scalars())
        blocks = conn.execute(select(func.count()).select_from(t.blocks)).scalar_one()
        block_sizes = sorted(conn.execute(select(t.blocks.c.entry_count)).scalars())
        balances = {
            account: int(amount)
            for account, amount in conn.execute(
                select(t.balances.c.account_id, func.sum(t.balances.c.amount)).group_by(
                    t.balances.c.account_id
                )
            )
        }

    # every reported batch is there in full, and the killed one left nothing
    missing = expected_keys - keys
    assert not missing, f"committed entries lost: {sorted(missing)[:10]}"
    assert not keys & set(paused_keys), "part of the killed batch was committed"
    assert keys == expected_keys
    assert lot_ids == {entry_id_for(key) for key in expected_keys}
    assert blocks == len(committed)
    assert block_sizes == sorted(len(ops) for ops in batches.values())
    issued = sum(pending.values())
    assert balances.get("system:issuance", 0) == -issued
    members = {a: v for a, v in balances.items() if a.startswith("member:") and v}
    assert members == dict(pending)
    assert balances.get(f"merchant:{CRASH_MERCHANT}:accepted", 0) == 0

    report = verify(engine)
    assert report.ok, [f"{f.where()} [{f.code}] {f.message}" for f in report.findings[:10]]
    assert report.totals["issued"] == issued
    assert report.entries == len(expected_keys)

    cli = _jifen_cli()
    if cli is not None:
        result = subprocess.run(
            [cli, "verify", "--db", db_url], capture_output=True, text=True, timeout=CLI_TIMEOUT
        )
        assert result.returncode == 0, result.stdout + result.stderr

    # the store is usable: the killed batch goes in fresh, all of it, and still verifies
    again = crash_batch(PAUSE_AT, PAUSE_SIZE)
    receipts = ledger.submit_batch(again, crash_now(PAUSE_AT))
    assert [r.key for r in receipts] == paused_keys
    assert not any(r.replayed for r in receipts)
    after = verify(engine)
    assert after.ok, [f"{f.where()} [{f.code}] {f.message}" for f in after.findings[:10]]
    assert after.totals["issued"] == issued + sum(op.points for op in again)
    engine.dispose()
