"""The auditor's export of a signed checkpoint (``jifen audit export --until N``, issue 15): the
journal up to exactly the blocks checkpoint N signed, re-derived from the files alone to the
signed root, total and reserve — even after the store has moved on; a snapshot, checkpoint or
balance changed in the export (the manifest resealed) is a finding, never a pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jifen.app import Context
from jifen.ledger import Redeem
from jifen.proofs import take_checkpoint
from jifen.proofs.auditor import export_checkpoint, verify_checkpoint_export
from jifen.proofs.errors import ExportRequestInvalid
from proofs_kit import DAY, T0, earn, small_alliance
from test_audit_export import _reseal


def _codes(out: Path) -> set[str]:
    return {f.code for f in verify_checkpoint_export(out).findings}


@pytest.fixture
def moved_on(db_url: str) -> Context:
    """A store whose checkpoint 1 is followed by more history and a second checkpoint."""
    ctx = small_alliance(db_url)
    take_checkpoint(ctx, idem_key="first")
    ctx.ledger.submit(earn("after", "m07", 55), T0 + 10 * DAY)
    ctx.ledger.submit(Redeem("x2", "m01", "film", 100, "f2"), T0 + 10 * DAY)
    take_checkpoint(ctx, idem_key="second")
    return ctx


def test_an_earlier_checkpoints_export_re_derives_its_own_signed_snapshot(
    moved_on: Context, tmp_path: Path
) -> None:
    found, manifest = export_checkpoint(moved_on, 1, tmp_path / "one")
    report = verify_checkpoint_export(tmp_path / "one")
    assert report.ok, report.findings
    assert report.books is not None
    assert report.books.totals["outstanding"] == found.figures.total
    assert {f.name for f in manifest.files} >= {"checkpoint.json", "snapshot.jsonl"}
    checked = subprocess.run(
        [str(Path(sys.executable).with_name("bean-check")), str(tmp_path / "one/ledger.beancount")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr
    second, _ = export_checkpoint(moved_on, None, tmp_path / "latest")
    assert second.seq == 2 and verify_checkpoint_export(tmp_path / "latest").ok
    assert second.figures.total == found.figures.total + 55 - 100


def test_a_changed_snapshot_balance_or_checkpoint_is_found_though_the_manifest_is_resealed(
    moved_on: Context, tmp_path: Path
) -> None:
    out = tmp_path / "x"
    export_checkpoint(moved_on, 1, out)
    snapshot = out / "snapshot.jsonl"
    lines = [json.loads(line) for line in snapshot.read_text().splitlines()]
    lines[0]["balance"] -= 1  # a member counted for less than the journal gives them
    snapshot.write_text("".join(json.dumps(x) + "\n" for x in lines))
    _reseal(out)
    assert {"snapshot.balance_mismatch", "snapshot.root_mismatch"} <= _codes(out)

    out = tmp_path / "y"
    export_checkpoint(moved_on, 1, out)
    published = json.loads((out / "checkpoint.json").read_text())
    published["checkpoint"]["snapshot"]["total"] -= 1
    (out / "checkpoint.json").write_text(json.dumps(published))
    _reseal(out)
    assert {"checkpoint.signature", "snapshot.root_mismatch", "snapshot.total_mismatch"} <= (
        _codes(out)
    )


def test_there_is_no_export_without_a_checkpoint(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ExportRequestInvalid):
        export_checkpoint(small_alliance(db_url), None, tmp_path / "none")
