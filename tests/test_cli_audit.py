"""``jifen audit`` as a member, an auditor and an operator use it (issue 15): take a snapshot,
keep a checkpoint, check a member's proof against the published root and total (and only those),
and catch a rewritten history with a kept checkpoint. A bad file is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from jifen.app import Context
from jifen.cli import app
from jifen.proofs import CheckpointMalformed, member_proof
from proofs_kit import SECRET, rewrite_history, small_alliance


def _run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args), env={"JIFEN_SECRET": SECRET})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Context]:
    url = f"sqlite:///{tmp_path}/a.db"
    return url, small_alliance(url)


def test_a_kept_checkpoint_agrees_until_history_is_rewritten(
    store: tuple[str, Context], tmp_path: Path
) -> None:
    url, ctx = store
    made = _run("audit", "snapshot", "--key", "k1", "--db", url)
    assert made.exit_code == 0 and "checkpoint 1" in made.output and "40" in made.output
    kept = tmp_path / "kept.json"
    assert _run("audit", "checkpoint", "1", "--out", str(kept), "--db", url).exit_code == 0
    agrees = _run("audit", "check-checkpoint", str(kept), "--db", url)
    assert agrees.exit_code == 0 and "signature: valid" in agrees.output
    assert _run("audit", "check-feed", "--db", url).exit_code == 0

    rewrite_history(ctx)
    caught = _run("audit", "check-checkpoint", str(kept), "--db", url)
    assert caught.exit_code == 1 and "history was rewritten" in caught.output
    assert _run("audit", "check-feed", "--db", url).exit_code == 1


def test_check_proof_passes_only_against_the_published_root_total_and_signature(
    store: tuple[str, Context], tmp_path: Path
) -> None:
    url, ctx = store
    _run("audit", "snapshot", "--key", "k1", "--db", url)
    published = json.loads(_run("audit", "checkpoint", "latest", "--db", url).output)
    root, total = (published["checkpoint"]["snapshot"][k] for k in ("root", "total"))
    file = tmp_path / "proof.json"
    proof = member_proof(ctx, "m05")
    file.write_text(json.dumps(proof))
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps(published))

    good = _run("audit", "check-proof", str(file), "--root", root, "--total", str(total))
    assert good.exit_code == 0 and "included" in good.output and "signature: valid" in good.output
    assert _run("audit", "check-proof", str(file), "--checkpoint", str(kept)).exit_code == 0
    key = published["signature"]["public_key"]
    assert _run("audit", "check-proof", str(file), "--public-key", key).exit_code == 0

    for args in (
        ("--root", root, "--total", str(total + 1)),  # a total other than the published one
        ("--root", "ab" * 32, "--total", str(total)),
        ("--public-key", "cd" * 32),  # signed by another key than the operator's
    ):
        assert _run("audit", "check-proof", str(file), *args).exit_code == 1, args

    cheat = json.loads(file.read_text())
    cheat["proof"]["balance"] += 1  # the member's balance counted for more than it is
    file.write_text(json.dumps(cheat))
    out = _run("audit", "check-proof", str(file), "--root", root, "--total", str(total))
    assert out.exit_code == 1 and "NOT included" in out.output

    forged = dict(proof)
    forged["checkpoint"] = forged["checkpoint"] | {"taken_at": "2026-01-01T00:00:00.000000Z"}
    file.write_text(json.dumps(forged))
    out = _run("audit", "check-proof", str(file))
    assert out.exit_code == 1 and "signature: invalid" in out.output


def test_a_file_that_is_not_a_proof_is_one_readable_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for text in ("[]", '{"proof": {}}', '{"checkpoint": {"format": "x"}, "signature": {}}'):
        bad.write_text(text)
        refused = CliRunner().invoke(app, ["audit", "check-proof", str(bad)])
        assert isinstance(refused.exception, CheckpointMalformed), (text, refused.output)
    bad.write_text("not json")  # and as a user sees it: one line, exit 2, no stack trace
    done = subprocess.run(
        [sys.executable, "-m", "jifen", "audit", "check-proof", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.startswith("error[checkpoint.malformed]")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
