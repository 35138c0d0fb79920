"""The benchmark scripts start (they share bench/_common.py, and bench/http.py must not stand in
for the standard library's http package), and bench/http.py says in one line what is missing
when wrk is not installed, and bench/proofs.py runs end to end at a tiny size. They measure
nothing here: the figures come from docs/benchmark.md's runs on an idle machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "bench"


def _run(
    script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("script", ["ledger.py", "http.py"])
def test_bench_script_shows_its_options(script: str) -> None:
    result = _run(script, "--help")
    assert result.returncode == 0, result.stderr
    assert "--seconds" in result.stdout and "--quick" in result.stdout


def test_http_bench_says_in_one_line_that_wrk_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no wrk on it
    result = _run("http.py", "--quick", env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert "apt-get install wrk" in result.stderr


def test_proofs_bench_runs_both_parts_at_a_tiny_size() -> None:
    """bench/proofs.py end to end at 300 members (SQLite only, no tracemalloc pass): the JSON
    has the tree's figures against the hashing floor and the stored checkpoint's against the
    plain read, and the checkpoint counts every member loaded."""
    result = _run(
        "proofs.py", "--members", "300", "--stores", "sqlite", "--no-tracemalloc",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    tree = report["tree"]
    assert tree["tree"]["members"] == 300 and tree["ratio"] > 0
    assert tree["tree"]["proof_steps"] == tree["tree"]["levels"] - 1 == 9
    assert tree["tree"]["bytes_per_member"] >= 80  # 40-byte records, levels halving
    assert tree["floor"]["node_hashes"] == tree["tree"]["node_hashes"]
    stored = report["stored"]["sqlite"]
    assert stored["load"]["members"] == 300 and "errors" not in stored["load"]
    assert stored["checkpoint"]["members"] == 300 == stored["read"]["rows"] // 2
    assert stored["checkpoint"]["total"] == tree["tree"]["root_sum"]
    assert stored["ratio"] > 0 and report["machine"]["loadavg_at_end"]
