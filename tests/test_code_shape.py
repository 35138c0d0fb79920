"""The shape the style guide asks for, checked (issue 9): modules a person can read in one
sitting (at most ~400 lines, or a written reason at the top), and shell functions short enough to
see whole (at most 80 lines of body). Migrations are frozen history and exempt."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "jifen"
MAX_MODULE_LINES = 400
MAX_SHELL_FUNCTION_LINES = 80
LONG_REASON = "Why this module is long:"
CORE = (
    "rules/",
    "compliance/",
    "lab/",
    "ledger/model.py",
    "ledger/plan.py",
    "ledger/lots.py",
    "ledger/chain.py",
    "ledger/_rederive.py",
    "ledger/_checks.py",
    "ledger/_checkpoint.py",
    "settlement/statement.py",
)


def _modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def test_long_modules_say_why() -> None:
    unexplained = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES and LONG_REASON not in (
            ast.get_docstring(ast.parse(text)) or ""
        ):
            unexplained.append(f"{path.relative_to(SRC)}: {lines} lines")
    assert not unexplained, f"split these, or write '{LONG_REASON} …' at their top: {unexplained}"


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the body, without the signature and the docstring."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] or body
    end = node.end_lineno or node.lineno
    return end - body[0].lineno + 1


def test_shell_functions_fit_on_a_screen() -> None:
    long = []
    for path in _modules():
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith(CORE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and (n := _body_lines(node)) > MAX_SHELL_FUNCTION_LINES:
                long.append(f"{relative}:{node.lineno} {node.name}: {n} lines")
    assert not long, long
