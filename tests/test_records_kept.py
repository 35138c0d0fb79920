"""Financial records have no delete path (brief §7: kept at least five years): no code outside
the migrations' downgrades deletes from, truncates or drops a table that holds them. A test that
reads the code, because a delete path is a thing that must not exist at all, not a behaviour."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jifen.ledger._tables  # noqa: F401  (registers the ledger's tables)
from jifen.store.tables import metadata

SRC = Path(__file__).resolve().parents[1] / "src" / "jifen"
FINANCIAL = {
    "entries", "legs", "blocks", "lots", "balances", "statements", "payments", "split_orders",
    "split_lines", "refunds", "split_returns", "payouts", "provider_events", "reconciliations",
    "large_value_alerts",
}  # fmt: skip
SQL = re.compile(r"\b(DELETE\s+FROM|TRUNCATE|DROP\s+TABLE)\s+\"?(\w+)", re.IGNORECASE)


def _deletes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "delete":
                target = func.value  # t.payouts.delete()
                table = target.attr if isinstance(target, ast.Attribute) else ""
                if table in FINANCIAL:
                    found.append(f"{path.name}:{node.lineno} {table}.delete()")
            named = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if named == "delete" and node.args:  # sqlalchemy.delete(t.refunds)
                arg = node.args[0]
                table = arg.attr if isinstance(arg, ast.Attribute) else getattr(arg, "id", "")
                if table in FINANCIAL:
                    found.append(f"{path.name}:{node.lineno} delete({table})")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for _verb, table in SQL.findall(node.value):
                if table.lower() in FINANCIAL:
                    found.append(f"{path.name}:{node.lineno} {table}")
    return found


def test_every_financial_table_is_known_to_this_test() -> None:
    assert set(metadata.tables) >= FINANCIAL, FINANCIAL - set(metadata.tables)


def test_no_code_deletes_a_financial_record() -> None:
    offending = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if "migrations" not in path.parts
        for hit in _deletes(path)
    ]
    assert not offending, offending


def test_the_check_finds_a_delete(tmp_path: Path) -> None:
    scratch = tmp_path / "bad.py"
    scratch.write_text(
        "from sqlalchemy import delete\nfrom jifen.store import tables as t\n"
        "def purge(conn):\n    conn.execute(t.payouts.delete())\n"
        "    conn.execute(delete(t.refunds))\n    conn.exec_driver_sql('DELETE FROM legs')\n"
    )
    assert len(_deletes(scratch)) == 3
