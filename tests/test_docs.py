"""The runnable examples in docs/ run as written."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"
EXAMPLES = [
    (page.name, n, code)
    for page in sorted(DOCS.glob("*.md"))
    for n, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]


@pytest.mark.parametrize(("page", "n", "code"), EXAMPLES, ids=[f"{p}#{n}" for p, n, _ in EXAMPLES])
def test_doc_example_runs(
    page: str, n: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "example.py"
    script.write_text(code)
    runpy.run_path(str(script), run_name="__main__")


def test_the_ledger_page_has_an_example() -> None:
    assert any(page == "ledger.md" for page, _, _ in EXAMPLES)
