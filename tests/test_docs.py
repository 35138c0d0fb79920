"""The runnable examples in docs/ run as written."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from docs_kit import DOCS, page_blocks

EXAMPLES = [
    (page.name, n, block.code)
    for page in sorted(DOCS.glob("*.md"))
    for n, block in enumerate(b for b in page_blocks(page) if b.lang == "python")
    if block.skip is None
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
