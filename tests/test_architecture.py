"""The layering of docs/architecture.md is enforced (issue 9): the import-linter contracts in
pyproject.toml hold for the code as it is, and they have teeth — a scratch copy of the tree with
one deliberately wrong import (the pure core reaching for the database, a service reading the
ledger's tables) breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports_command as run; sys.exit(run())"
)


def _lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_every_import_linter_contract_is_kept() -> None:
    result = _lint_imports(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("ledger/plan.py", "import sqlalchemy", "The core is pure"),
        ("alliance/orders.py", "from jifen.ledger import _tables", "Only the ledger knows"),
        ("ledger/service.py", "import jifen.api", "Layers"),
        ("lab/nfg.py", "import jifen.ledger", "The scheme lab stands alone"),
        ("sandbox/_world.py", "import jifen.ledger", "The sandbox provider stands alone"),
        ("alliance/orders.py", "import jifen.sandbox", "Only the CLI starts the sandbox"),
    ],
)
def test_a_wrong_import_in_a_scratch_copy_breaks_its_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "jifen" / module
    text = target.read_text(encoding="utf-8")
    head, _, rest = text.partition("from __future__ import annotations\n")
    target.write_text(f"{head}from __future__ import annotations\n\n{wrong_import}\n{rest}")
    result = _lint_imports(tmp_path, tmp_path / "src")
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
