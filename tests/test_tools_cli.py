"""The operator tools on the command line (issue 12): jifen import, keys, auditor, members
lookup and export, against a store opened directly, on both stores."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner, Result

from api_server import SECRET, T0
from jifen.alliance.keys import list_auditors
from jifen.alliance.lookup import audit_records
from jifen.alliance.merchants import key_owner
from jifen.app import SimulatedClock, open_alliance
from jifen.cli import app
from jifen.settlement import exports

MERCHANTS = (
    "merchant_id,name,category,legal_name,licence_no,stores\n"
    "tea,茶馆,cafe,茶馆有限公司,91310000MA1FL0TEA1,t1:人民广场店:上海\n"
    "books,书店,bookshop,书店有限公司,91310000MA1FL0BOK2,\n"
)


def _run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args), env={"JIFEN_SECRET": SECRET})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_import_keys_auditor_lookup_and_export_from_the_command_line(
    db_url: str, tmp_path: Path
) -> None:
    ctx = open_alliance(db_url, secret=SECRET, clock=SimulatedClock(T0))
    db = ["--db", db_url]
    try:
        file = tmp_path / "merchants.csv"
        file.write_text(MERCHANTS, encoding="utf-8")
        dry = _run("import", "merchants", str(file), "--dry-run", *db)
        assert dry.exit_code == 0 and "2 new" in dry.output and "nothing written" in dry.output
        done = _run("import", "merchants", str(file), *db)
        assert done.exit_code == 0 and "(2 written)" in done.output, done.output
        again = _run("import", "merchants", str(file), *db)
        assert "0 new, 2 unchanged" in again.output
        assert "(nothing new, nothing written)" in again.output, again.output
        bad = tmp_path / "bad.csv"
        bad.write_text("merchant_id,name,category,legal_name,licence_no\nTea!,x,cafe,y,1\n")
        refused = _run("import", "merchants", str(bad), *db)
        assert refused.exit_code == 1 and "row 2" in refused.output

        made = _run("keys", "create", "tea", "--name", "till-1", "--store", "t1", *db)
        key_id, key = made.stdout.split()[-2:]
        owner = key_owner(ctx, key)
        assert owner is not None and (owner.merchant_id, owner.key_id) == ("tea", key_id)
        listed = _run("keys", "list", "tea", *db)
        assert key_id in listed.output and key not in listed.output
        rotated = _run("keys", "rotate", "tea", key_id, "--grace-seconds", "0", *db)
        new_key = rotated.stdout.split()[-1]
        assert key_owner(ctx, key) is None and key_owner(ctx, new_key) is not None
        new_id = rotated.stdout.split()[-2]
        revoked = _run("keys", "revoke", "tea", new_id, *db)
        assert revoked.exit_code == 0, revoked.output
        when = revoked.stdout.split(" at ")[-1].strip()  # ISO 8601, as `keys list` prints it
        assert "T" in when and datetime.fromisoformat(when).tzinfo is not None, revoked.stdout
        assert key_owner(ctx, new_key) is None

        auditor = _run("auditor", "create", "kpmg-2026", *db)
        auditor_id, auditor_key = auditor.stdout.split()[-2:]
        assert auditor_key.startswith("jfa_")
        owner = key_owner(ctx, auditor_key)
        assert owner is not None and owner.role == "auditor"
        assert _run("auditor", "revoke", auditor_id, *db).exit_code == 0
        assert [a.status for a in list_auditors(ctx, T0)] == ["revoked"]

        members = tmp_path / "members.csv"
        members.write_text("phone,terms,privacy\n13700137000,1,1\n", encoding="utf-8")
        assert _run("import", "members", str(members), *db).exit_code == 0
        found = _run("members", "lookup", "--phone", "13700137000", "--reason", "客诉", *db)
        assert found.exit_code == 0 and "137****7000" in found.stdout
        missing = _run("members", "lookup", "--phone", "13600136000", "--reason", "核实", *db)
        assert missing.exit_code == 1
        records = audit_records(ctx, cursor=None, limit=10).items
        assert [(r.query, r.reason) for r in records] == [
            ("phone 136****6000", "核实"),
            ("phone 137****7000", "客诉"),
        ]
        assert all(r.actor.startswith("cli:") for r in records)

        out = tmp_path / "statements.csv"
        _run(
            "export",
            "statements",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--out",
            str(out),
            *db,
        )
        assert next(csv.reader(io.StringIO(out.read_text()))) == list(exports.STATEMENT_COLUMNS)
        orders = _run("export", "orders", "--from", "2026-03-01", "--to", "2026-03-31", *db)
        assert orders.stdout.splitlines() == [",".join(exports.ORDER_COLUMNS)]
    finally:
        ctx.engine.dispose()


def test_a_refused_tool_command_is_one_line_and_exit_2(db_url: str) -> None:
    open_alliance(db_url, secret=SECRET).engine.dispose()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jifen",
            "members",
            "lookup",
            "--id",
            "m1",
            "--phone",
            "13700137000",
            "--reason",
            "x",
            "--db",
            db_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JIFEN_SECRET": SECRET},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error[request.invalid]: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
