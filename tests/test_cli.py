"""The command line as a person uses it: demo, verify, tampering, and refusals as one line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

SMALL = ["--members", "30", "--orders", "300", "--days", "110", "--cash"]
"""Cash orders: fast, for what does not concern the provider (tests/test_cli_funds.py pays)."""


def jifen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jifen", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def verify_json(db: str) -> dict[str, object]:
    result = jifen("verify", "--db", db, "--json")
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_demo_then_verify_exits_zero(db_url: str) -> None:
    demo = jifen("demo", "--db", db_url, *SMALL)
    assert demo.returncode == 0, demo.stderr
    assert "校验通过 verified" in demo.stdout
    assert "未兑付 outstanding" in demo.stdout
    result = jifen("verify", "--db", db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    totals = verify_json(db_url)["totals"]
    assert isinstance(totals, dict)
    assert totals["issued"] == (
        totals["redeemed"] + totals["expired"] + totals["clawed_back"] + totals["outstanding"]
    )
    assert totals["redeemed"] > 0 and totals["expired"] > 0 and totals["clawed_back"] > 0


def test_a_second_demo_is_refused_on_a_store_in_use_and_force_replaces_it(
    db_url: str, tmp_path: Path
) -> None:
    tiny = ["--members", "5", "--orders", "20", "--days", "5", "--cash"]  # the store, not the money
    assert jifen("demo", "--db", db_url, *tiny, "--seed", "1").returncode == 0
    first = verify_json(db_url)
    again = jifen("demo", "--db", db_url, *tiny, "--seed", "2")
    assert again.returncode == 2
    held = "a store" if db_url.startswith("sqlite") else "a ledger"
    assert again.stderr.startswith("error[demo.store_in_use]: the demo needs an empty store; ")
    assert f"already holds {held}" in again.stderr and "--force" in again.stderr
    assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr
    assert verify_json(db_url) == first  # nothing written
    forced = jifen("demo", "--db", db_url, *tiny, "--seed", "2", "--force")
    assert forced.returncode == 0, forced.stderr
    fresh = str(tmp_path / "fresh.db")
    assert jifen("demo", "--db", fresh, *tiny, "--seed", "2").returncode == 0
    assert verify_json(db_url) == verify_json(fresh) != first  # new books, nothing added


def test_same_seed_same_books(tmp_path: Path) -> None:
    tips = []
    for name in ("a.db", "b.db"):
        db = str(tmp_path / name)
        assert jifen("demo", "--db", db, *SMALL, "--seed", "11").returncode == 0
        with sqlite3.connect(db) as conn:
            tips.append(conn.execute("select chain_id, height, tip_hash from chains").fetchall())
    assert tips[0] == tips[1]


def test_sm3_chain_verifies(tmp_path: Path) -> None:
    db = str(tmp_path / "sm3.db")
    assert jifen("demo", "--db", db, *SMALL, "--hash", "sm3").returncode == 0
    assert verify_json(db)["hash_alg"] == "sm3"
    assert jifen("verify", "--db", db).returncode == 0


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "jifen.db"
    assert jifen("demo", "--db", str(db), *SMALL).returncode == 0
    return db


TAMPERING = {
    "a leg amount": "update legs set amount = amount + 1 where rowid = {leg}",
    "a leg account": "update legs set account_id = 'member:u00001:available' where rowid = {leg}",
    "an entry hash": "update entries set entry_hash = '{fake}' where entry_id = '{entry}'",
}


@pytest.mark.parametrize("change", sorted(TAMPERING))
def test_changing_one_stored_value_fails_verify_naming_the_entry(
    change: str, demo_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "tampered.db"
    db.write_bytes(demo_db.read_bytes())
    with sqlite3.connect(db) as conn:
        leg, entry = conn.execute(
            "select legs.rowid, legs.entry_id from legs join entries using (entry_id) "
            "where entries.kind = 'redeem' limit 1"
        ).fetchone()
        conn.execute(TAMPERING[change].format(leg=leg, entry=entry, fake="f" * 64))
    result = jifen("verify", "--db", str(db))
    assert result.returncode == 1
    first_line = result.stdout.splitlines()[0]
    assert "verification failed" in first_line and f"entry {entry}" in first_line
    assert "Traceback" not in result.stdout + result.stderr


def test_refusals_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    missing = jifen("verify", "--db", str(tmp_path / "nothing-here.db"))
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0
    assert missing.stderr.startswith("error[store.unavailable]:")
    unreachable = jifen("verify", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("error[store.unavailable]:")
    assert "Traceback" not in unreachable.stderr
    bad_hash = jifen("demo", "--db", str(tmp_path / "x.db"), "--hash", "md5")
    assert bad_hash.returncode == 2 and "Traceback" not in bad_hash.stderr
