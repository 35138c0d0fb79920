"""``jifen verify`` in bounded memory, and resumed from a checkpoint (issue 11, item 5).

The journal is walked a page of blocks at a time and the re-derived books meet the stored caches
in a scratch file, ``range_size`` keys in memory at a time: so the report must not depend on the
sizes (every tamper of test_verify_tamper, read through pages of one block and ranges of one key,
gives the very report it gives with the defaults), and Python's peak memory must not grow with
the number of members. A checkpoint of a clean run lets a later run skip re-hashing what it
verified, and says so when what it verified was rewritten. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from jifen.ledger import (
    Cap,
    Checkpoint,
    Earn,
    Ledger,
    Operation,
    Redeem,
    Refund,
    Release,
    Report,
    Reverse,
    verify,
)
from jifen.ledger import _tables as t
from jifen.ledger import chain as chain_rules
from jifen.ledger._rows import load_entries
from test_cli import jifen
from test_verify_tamper import TAMPERS, Books, _rechain, build, copy_of, put_back

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TINY = {"blocks_per_page": 1, "range_size": 1}


def same(report: Report) -> dict[str, object]:
    """Everything a report says, to compare two runs."""
    return asdict(report)


def earn(key: str, member: str, points: int = 100, *, cap: Cap | None = None) -> Earn:
    return Earn(key, member, "tea", f"order-{key}", points * 100, points, 1, T0, T0 + 7 * DAY,
                expires_at=T0 + 30 * DAY, cap=cap)  # fmt: skip


def busy(ledger: Ledger, members: int, *, batch: int = 25) -> None:
    """Every member earns twice, one lot released, a redemption (capped) partly reversed, a
    refund too small to claw a point back (a refund with no legs), blocks of ``batch``."""
    ledger.open_merchant("tea", T0)
    ledger.open_merchant("books", T0)
    names = [f"m{n:05d}" for n in range(members)]
    week = T0 + 8 * DAY
    earns = [earn(f"{k}-{m}", m, p) for m in names for k, p in (("a", 100), ("b", 40))]
    spends: list[Operation] = [Release(f"r-{m}", chain_rules.entry_id_for(f"a-{m}")) for m in names]
    for m in names[::3]:
        cap = Cap(f"redeem-order:books:o-{m}", 1_000)
        spends.append(Redeem(f"s-{m}", m, "books", 30, f"o-{m}", cap=cap))
        spends.append(Refund(f"f-{m}", chain_rules.entry_id_for(f"b-{m}"), 1))
    undo = [Reverse(f"u-{m}", chain_rules.entry_id_for(f"s-{m}"), "till") for m in names[::6]]
    for at, ops in ((T0, earns), (week, spends), (week, undo)):
        for start in range(0, len(ops), batch):
            ledger.submit_batch(ops[start : start + batch], at)


def test_tiny_pages_and_ranges_give_the_same_report(ledger: Ledger) -> None:
    busy(ledger, 12, batch=5)
    default = verify(ledger.engine)
    assert default.ok, default.findings
    assert same(verify(ledger.engine, **TINY)) == same(default)
    assert same(verify(ledger.engine, blocks_per_page=3, range_size=7)) == same(default)


def test_every_tamper_reads_the_same_through_pages_of_one_block(ledger: Ledger) -> None:
    """Each tamper of test_verify_tamper: the same findings, in the same order, whether the
    journal is read a block at a time and the books a key at a time, or all at once."""
    books: Books = build(ledger)
    pristine = copy_of(ledger.engine)
    for case, tamper, _ in TAMPERS:
        with ledger.engine.begin() as conn:
            tamper(conn, books)
        tiny, default = verify(ledger.engine, **TINY), verify(ledger.engine)
        assert not default.ok, case
        assert tiny.findings == default.findings, case
        assert same(tiny) == same(default), case
        put_back(ledger.engine, pristine)


def test_tampering_across_page_boundaries_is_found(ledger: Ledger) -> None:
    """A member's cached balance, a lot's figures and a cap changed far apart in key order: each
    found once, whatever the range it fell in."""
    busy(ledger, 12, batch=5)
    lot = chain_rules.entry_id_for("a-m00007")
    with ledger.engine.begin() as conn:
        conn.execute(
            update(t.balances)
            .where(t.balances.c.account_id == "member:m00001:available")
            .values(amount=t.balances.c.amount + 5)
        )
        conn.execute(update(t.lots).where(t.lots.c.lot_id == lot).values(redeemed=99))
        conn.execute(
            update(t.caps).where(t.caps.c.cap_key == "redeem-order:books:o-m00009").values(used=1)
        )
    report = verify(ledger.engine, **TINY)
    codes = [(f.code, f.entry_id) for f in report.findings]
    assert ("balance.mismatch", None) in codes
    assert ("lot.mismatch", lot) in codes
    assert ("cap.mismatch", None) in codes
    assert report.findings == verify(ledger.engine).findings


def _more(ledger: Ledger) -> None:
    later = T0 + 9 * DAY
    ledger.submit_batch([earn("late-1", "m00000"), earn("late-2", "zoe")], later)
    ledger.submit(Redeem("late-3", "m00001", "books", 10, "o-late"), later)


def test_checkpoint_then_more_writes_then_resume_is_clean(ledger: Ledger) -> None:
    busy(ledger, 6, batch=4)
    first = verify(ledger.engine)
    checkpoint = Checkpoint.parse(Checkpoint.of(first, T0).text())  # through its file form
    _more(ledger)

    resumed = verify(ledger.engine, resume=checkpoint, **TINY)
    full = verify(ledger.engine)

    assert resumed.ok, resumed.findings
    assert resumed.resumed and resumed.checked_blocks == full.blocks - first.blocks == 2
    assert (resumed.blocks, resumed.entries, resumed.totals) == (
        full.blocks,
        full.entries,
        full.totals,
    )
    assert resumed.lanes == full.lanes


def test_resume_still_checks_the_caches(ledger: Ledger) -> None:
    busy(ledger, 4)
    checkpoint = Checkpoint.of(verify(ledger.engine), T0)
    with ledger.engine.begin() as conn:
        conn.execute(update(t.lots).where(t.lots.c.lot_id == chain_rules.entry_id_for("a-m00002"))
                     .values(available=1))  # fmt: skip
    codes = {f.code for f in verify(ledger.engine, resume=checkpoint).findings}
    assert codes == {"lot.mismatch"}


def test_resume_after_rewriting_history_below_the_checkpoint_says_so(ledger: Ledger) -> None:
    """A forger changes a leg under the checkpoint and rehashes the lane from there: a full run
    finds the balances; a resumed run names the checkpointed block first."""
    busy(ledger, 6, batch=4)
    checkpoint = Checkpoint.of(verify(ledger.engine), T0)
    _more(ledger)
    entry_id = chain_rules.entry_id_for("b-m00003")
    with ledger.engine.begin() as conn:
        row = conn.execute(t.entries.select().where(t.entries.c.entry_id == entry_id)).one()
        conn.execute(
            update(t.legs)
            .where(t.legs.c.entry_id == entry_id, t.legs.c.amount > 0)
            .values(amount=t.legs.c.amount + 1)
        )
        conn.execute(
            update(t.legs)
            .where(t.legs.c.entry_id == entry_id, t.legs.c.amount < 0)
            .values(amount=t.legs.c.amount - 1)
        )
        forged = load_entries(conn, [entry_id])[entry_id]
        conn.execute(
            update(t.entries)
            .where(t.entries.c.entry_id == entry_id)
            .values(entry_hash=chain_rules.entry_hash(ledger.hash_alg, forged))
        )
        _rechain(conn, ledger.hash_alg, row.chain_id, row.height)

    report = verify(ledger.engine, resume=checkpoint)

    first = report.findings[0]
    mark = checkpoint.lanes[row.chain_id]
    assert (first.code, first.chain_id, first.height) == ("chain.rewritten", row.chain_id,
                                                           mark.height)  # fmt: skip
    assert "history before the checkpoint was rewritten" in first.message
    assert "chain.rewritten" not in {f.code for f in verify(ledger.engine).findings}


def test_a_leg_changed_below_the_checkpoint_without_rehashing_shows_in_the_totals(
    ledger: Ledger,
) -> None:
    """Resume does not re-hash old entries, but their sums must still be the checkpoint's."""
    busy(ledger, 4)
    checkpoint = Checkpoint.of(verify(ledger.engine), T0)
    entry_id = chain_rules.entry_id_for("a-m00001")
    with ledger.engine.begin() as conn:
        for sign in (1, -1):  # still balanced: issuance and the member's pending both move
            conn.execute(
                update(t.legs)
                .where(t.legs.c.entry_id == entry_id, (t.legs.c.amount * sign) > 0)
                .values(amount=t.legs.c.amount + sign)
            )
    report = verify(ledger.engine, resume=checkpoint)
    rewritten = [f for f in report.findings if f.code == "chain.rewritten"]
    assert rewritten and "issued" in rewritten[0].message
    assert verify(ledger.engine).findings[0].code == "entry.hash_mismatch"


def _peak_bytes(engine: Engine) -> int:
    tracemalloc.start()
    try:
        report = verify(engine, blocks_per_page=4, range_size=100)
        assert report.ok, report.findings
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_members(tmp_path: Path) -> None:
    """Four times the members (and entries): Python's peak during verify stays about the same
    (a page of blocks and a range of keys), where holding the books would grow it ~4×. Counts
    bytes, not time."""
    peaks = []
    for members in (100, 400):
        ledger = Ledger.open(f"sqlite:///{tmp_path / f'm{members}.db'}")
        busy(ledger, members, batch=10)
        verify(ledger.engine, blocks_per_page=4, range_size=100)  # warm caches and imports
        peaks.append(_peak_bytes(ledger.engine))
        ledger.engine.dispose()
    small, large = peaks
    assert large < 1.5 * small, f"peak {small:,} B for 100 members, {large:,} B for 400"


# -- the command ------------------------------------------------------------------------------


def test_the_command_writes_a_checkpoint_and_resumes_from_it(db_url: str, tmp_path: Path) -> None:
    ledger = Ledger.open(db_url)
    busy(ledger, 3)
    cp = tmp_path / "verified.json"
    written = jifen("verify", "--db", db_url, "--checkpoint", str(cp))
    assert written.returncode == 0, written.stderr
    saved = json.loads(cp.read_text())
    assert saved["format"] == "jifen-verify-checkpoint/1" and saved["hash_alg"] == "sha256"
    _more(ledger)
    ledger.engine.dispose()
    resumed = jifen("verify", "--db", db_url, "--resume", str(cp), "--json")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["ok"] and report["resumed"] and report["rehashed_blocks"] == 2


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{", "not JSON"),
        ('{"format": "something else"}', "not a verify checkpoint"),
        (None, "cannot read checkpoint"),
    ],
)
def test_a_bad_checkpoint_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, says: str
) -> None:
    db = f"sqlite:///{tmp_path / 'j.db'}"
    Ledger.open(db).engine.dispose()
    cp = tmp_path / "cp.json"
    if content is not None:
        cp.write_text(content)
    result = jifen("verify", "--db", db, "--resume", str(cp))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error[verify.checkpoint_invalid]: ")
    assert says in lines[0]
