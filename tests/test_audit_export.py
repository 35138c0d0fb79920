"""The auditor's export (issue 15): the demo's journal, blocks and accounts written as line files
and as a Beancount ledger that ``bean-check`` passes and whose balances are the ledger's own; and
``verify_export`` re-deriving everything from the folder alone, naming what was tampered with."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from jifen.app import open_alliance
from jifen.demo import DEMO_SECRET
from jifen.ledger import Finding, queries
from jifen.ledger.model import AccountKind, Asset, Entry, Leg
from jifen.proofs.errors import ExportRequestInvalid, ExportTargetInUse
from jifen.proofs.export import verify_export, write_export
from jifen.transparency import export_format as fmt
from jifen.transparency.beancount import (
    ROOTS,
    SYSTEM_NAMES,
    account_name,
    amount_text,
    escape_id,
    transaction,
)

SMALL = ["--members", "30", "--orders", "200", "--days", "20", "--cash"]
BEAN_CHECK = Path(sys.executable).parent / "bean-check"


def _demo(db_url: str) -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "jifen", "demo", "--db", db_url, *SMALL],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr


def _export_all(db_url: str, out: Path) -> fmt.Manifest:
    ctx = open_alliance(db_url, secret=DEMO_SECRET)
    try:
        with ctx.engine.connect() as conn:
            lanes = {lane: height for lane, height, _ in queries.chain_tips(conn)}
        return write_export(ctx, out, lanes)
    finally:
        ctx.engine.dispose()


def _ledger_balances(db_url: str) -> dict[str, int]:
    ctx = open_alliance(db_url, secret=DEMO_SECRET)
    try:
        with ctx.engine.connect() as conn:
            return dict(queries.stored_balances(conn))
    finally:
        ctx.engine.dispose()


def _beancount_balances(path: Path) -> dict[str, int]:
    """Per Jifen account (through the opens' ``jifen_account``), the sum of its postings in
    points or fen, as Beancount's own loader reads the file."""
    from beancount import loader
    from beancount.core import data

    entries, errors, _ = loader.load_file(str(path))
    assert not errors, errors
    jifen_of = {e.account: e.meta["jifen_account"] for e in entries if isinstance(e, data.Open)}
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        if isinstance(e, data.Transaction):
            for p in e.postings:
                scale = 100 if p.units.currency == "CNY" else 1
                sums[jifen_of[p.account]] += p.units.number * scale
    assert all(n == n.to_integral_value() for n in sums.values())
    return {account: int(n) for account, n in sums.items()}


def test_the_demo_exports_to_beancount_that_bean_check_passes_with_the_ledgers_balances(
    db_url: str, tmp_path: Path
) -> None:
    _demo(db_url)
    out = tmp_path / "export"
    manifest = _export_all(db_url, out)
    assert {f.name for f in manifest.files} == set(fmt.CORE_FILES)
    checked = subprocess.run(
        [str(BEAN_CHECK), str(out / fmt.BEANCOUNT)], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == ""

    ledger = _ledger_balances(db_url)
    beans = _beancount_balances(out / fmt.BEANCOUNT)
    assert {a: n for a, n in beans.items() if n} == {a: n for a, n in ledger.items() if n}
    assert set(ledger) <= set(beans) | {a for a, n in ledger.items() if n == 0}

    report = verify_export(out)
    assert report.ok, report.findings
    assert report.books is not None
    assert {a: n for a, n in report.books.balances.items() if n} == {
        a: n for a, n in ledger.items() if n
    }
    t = report.books.totals
    assert t["issued"] == t["redeemed"] + t["expired"] + t["clawed_back"] + t["outstanding"] > 0


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "jifen.db"
    _demo(f"sqlite:///{db}")
    out = tmp_path_factory.mktemp("export") / "out"
    _export_all(f"sqlite:///{db}", out)
    return out


@pytest.fixture
def copy(exported: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(exported, target)
    return target


def _codes(out: Path) -> set[str]:
    return {f.code for f in verify_export(out).findings}


def _reseal(out: Path) -> None:
    """What a forger who also rewrites the manifest would do: its hashes match the files."""
    manifest = fmt.parse_manifest((out / fmt.MANIFEST).read_bytes())
    digests = []
    for f in manifest.files:
        digester = fmt.Digester(f.name)
        digester.update((out / f.name).read_bytes())
        digests.append(digester.digest())
    resealed = fmt.Manifest(manifest.created_at, manifest.hash_alg, manifest.until, tuple(digests))
    (out / fmt.MANIFEST).write_bytes(fmt.manifest_bytes(resealed))


def _edit_line(path: Path, pick: str, edit: object) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    n = next(i for i, raw in enumerate(lines) if pick.encode() in raw)
    lines[n] = edit(lines[n])  # type: ignore[operator]
    path.write_bytes(b"".join(lines))


def _bump_first_leg(raw: bytes) -> bytes:
    doc = json.loads(raw)
    doc["legs"][0][2] += 1
    return fmt.line(doc)


def test_an_untouched_export_verifies_and_hands_its_books_to_the_extra_checks(copy: Path) -> None:
    seen: list[int] = []

    def extra(folder: Path, books: object) -> list[Finding]:
        seen.append(len(books.balances))  # type: ignore[attr-defined]
        return [Finding("snapshot.example", "from the extra check")]

    report = verify_export(copy, extra_checks=extra)
    assert seen and seen[0] > 0
    assert [f.code for f in report.findings] == ["snapshot.example"]


def test_a_changed_leg_amount_is_found_by_the_manifest_the_hash_and_the_balances(
    copy: Path,
) -> None:
    _edit_line(copy / fmt.ENTRIES, '"kind":"earn"', _bump_first_leg)
    assert {"export.file_mismatch", "entry.hash_mismatch", "entry.unbalanced"} <= _codes(copy)
    _reseal(copy)
    assert _codes(copy) == {
        "entry.hash_mismatch",
        "entry.unbalanced",
        "invariant.issued",
        "beancount.balance_mismatch",
    }


def test_a_dropped_entry_line_breaks_its_block(copy: Path) -> None:
    _edit_line(copy / fmt.ENTRIES, '"kind":"release"', lambda raw: b"")
    _reseal(copy)
    codes = _codes(copy)
    assert {"block.entry_count", "block.hash_mismatch", "beancount.balance_mismatch"} <= codes
    assert "export.file_mismatch" not in codes


def test_an_edited_block_hash_is_found_and_breaks_the_next_link(copy: Path) -> None:
    def edit(raw: bytes) -> bytes:
        doc = json.loads(raw)
        doc["block_hash"] = "f" * 64
        return fmt.line(doc)

    _edit_line(copy / fmt.BLOCKS, '"height":5,', edit)
    _reseal(copy)
    assert _codes(copy) == {"block.hash_mismatch", "chain.gap"}


def test_an_edited_manifest_is_found(copy: Path) -> None:
    manifest = json.loads((copy / fmt.MANIFEST).read_bytes())
    manifest["files"][0]["sha256"] = "0" * 64
    (copy / fmt.MANIFEST).write_bytes(fmt.line(manifest))
    assert _codes(copy) == {"export.file_mismatch"}

    manifest = json.loads((copy / fmt.MANIFEST).read_bytes())
    manifest["until"][0]["height"] -= 1
    (copy / fmt.MANIFEST).write_bytes(fmt.line(manifest))
    assert "chain.until_mismatch" in _codes(copy)

    (copy / fmt.MANIFEST).write_bytes(b"{not json")
    assert _codes(copy) == {"export.manifest_invalid"}


def test_a_file_added_or_removed_is_found(copy: Path) -> None:
    (copy / "notes.txt").write_text("mine")
    assert _codes(copy) == {"export.file_unlisted"}
    (copy / "notes.txt").unlink()
    (copy / fmt.ACCOUNTS).unlink()
    assert "export.file_missing" in _codes(copy)


def test_an_export_needs_an_empty_folder_and_the_stores_lanes(
    exported: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    ctx = open_alliance(db, secret=DEMO_SECRET)
    try:
        with pytest.raises(ExportTargetInUse):
            write_export(ctx, exported, {0: 0})
        with pytest.raises(ExportRequestInvalid):
            write_export(ctx, tmp_path / "a", {0: 5})
        with pytest.raises(ExportRequestInvalid):
            write_export(ctx, tmp_path / "b", {}, extra={"manifest.json": b"{}"})
        manifest = write_export(ctx, tmp_path / "c", {}, extra={"checkpoint.json": b"{}\n"})
    finally:
        ctx.engine.dispose()
    assert manifest.file("checkpoint.json") is not None
    assert verify_export(tmp_path / "c").ok


# -- the pure parts ------------------------------------------------------------------------------


def test_beancount_names_are_valid_and_injective_whatever_the_ids() -> None:
    ids = ["m1", "M1", "m-1", "m.1", "m_1", "m-2D1", "I", "a-b", "a.b", "x" * 64]
    names = set()
    for member in ids:
        for purpose, kind in (
            ("pending", AccountKind.MEMBER_PENDING),
            ("available", AccountKind.MEMBER_AVAILABLE),
        ):
            name = account_name(f"member:{member}:{purpose}", kind)
            for component in name.split(":")[1:]:
                assert fmt_ok(component), name
            names.add(name)
    assert len(names) == 2 * len(ids)
    assert escape_id("m-1") == "Im-2D1" and escape_id("m.1") == "Im-2E1"
    every_kind = {ROOTS[k] for k in AccountKind}
    assert every_kind <= {"Assets", "Liabilities", "Equity", "Income", "Expenses"}
    from jifen.ledger.model import SYSTEM_ACCOUNTS

    assert set(SYSTEM_ACCOUNTS) == set(SYSTEM_NAMES)


def fmt_ok(component: str) -> bool:
    import re

    return re.fullmatch(r"[A-Z0-9][A-Za-z0-9-]*", component) is not None


@pytest.mark.parametrize(
    ("asset", "amount", "text"),
    [
        (Asset.CNY, 12345, "123.45 CNY"),
        (Asset.CNY, -5, "-0.05 CNY"),
        (Asset.CNY, 0, "0.00 CNY"),
        (Asset.CNY, -100, "-1.00 CNY"),
        (Asset.POINTS, -128, "-128 POINTS"),
    ],
)
def test_amounts_are_written_exactly(asset: Asset, amount: int, text: str) -> None:
    assert amount_text(asset, amount) == text


def test_an_entry_line_parses_back_to_the_entry_it_hashes() -> None:
    at = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    entry = Entry(
        "e1", "k:1", "b" * 64, "post", at,
        (Leg("system:reserve", Asset.CNY, 5), Leg("system:revenue", Asset.CNY, -5)),
        {"memo": "备注 \"quoted\"", "when": "2026-03-01T16:30:00.000000Z"},
    )  # fmt: skip
    exported = fmt.ExportEntry(entry, 0, 3, 1, "h" * 64)
    assert fmt.parse_entry(fmt.entry_line(exported)) == exported
    text = transaction(entry, chain_id=0, height=3, entry_hash="h" * 64, kinds={})
    assert text.startswith('2026-03-02 * "post"')  # booked on the Asia/Shanghai day
    with pytest.raises(fmt.LineInvalid):
        fmt.parse_time("2026-03-01T16:30:00Z")


def test_a_changed_beancount_assertion_is_found_even_with_a_resealed_manifest(copy: Path) -> None:
    _edit_line(
        copy / fmt.BEANCOUNT,
        "balance Liabilities:System:Reserve",
        lambda raw: raw.replace(b" CNY", b"1 CNY"),
    )
    _reseal(copy)
    assert _codes(copy) == {"beancount.balance_mismatch"}
