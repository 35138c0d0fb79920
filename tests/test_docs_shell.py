"""Every shell example in docs/ runs as written: each page's blocks in order, as one script,
against the real ``jifen`` command (servers included), in a fresh folder (see tests/docs_kit.py;
the convention is in docs/architecture.md, "Examples that run")."""

from __future__ import annotations

from pathlib import Path

import pytest

from docs_kit import SHELL_LANGS, Block, doc_blocks, run_page

BLOCKS = doc_blocks(SHELL_LANGS)
PAGES = sorted({b.page for b in BLOCKS if b.skip is None})
SKIPPED = [b for b in BLOCKS if b.skip is not None]
MAX_SKIPPED = 6
"""Few, and each with its reason (benchmarks that take minutes, real provider credentials...)."""


def _page(page: str) -> list[Block]:
    return [b for b in BLOCKS if b.page == page and b.skip is None]


@pytest.mark.parametrize("page", PAGES)
def test_the_shell_examples_of_a_page_run_in_order(page: str, tmp_path: Path) -> None:
    run = run_page(_page(page), tmp_path)
    assert run.returncode == 0, f"{page}: failed at {run.failed_at}\n{run.output[-6000:]}"


def test_skipped_examples_are_few_and_each_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    listing = "\n".join(f"  {b.page}:{b.line}: {b.skip}" for b in SKIPPED)
    with capsys.disabled():
        print(f"\ndocs shell examples: {len(BLOCKS) - len(SKIPPED)} run, {len(SKIPPED)} skipped:")
        print(listing)
    assert len(SKIPPED) <= MAX_SKIPPED, listing
    assert all(len(b.skip or "") >= 10 for b in SKIPPED), listing
    assert "api.md" in PAGES  # the curl walkthrough is never skipped


def test_deleting_a_line_from_the_walkthrough_makes_the_page_fail(tmp_path: Path) -> None:
    """The publication of the rules is one line; without it the first order is refused
    (``rules.none_in_force``) and the run stops there, naming the line."""
    blocks = _page("api.md")
    n, block = next((n, b) for n, b in enumerate(blocks) if "/publish" in b.code)
    lines = block.code.splitlines()
    publish = next(i for i, line in enumerate(lines) if "/publish" in line)
    while lines[publish].endswith("\\"):  # the whole command, with its continuation lines
        del lines[publish]
    del lines[publish]
    cut = Block(block.page, block.line, block.lang, "\n".join(lines) + "\n", None)
    run = run_page([*blocks[:n], cut, *blocks[n + 1 :]], tmp_path)
    assert run.returncode != 0, run.output[-3000:]
    assert "rules.none_in_force" in run.output, run.output[-3000:]
    assert run.failed_at is not None and run.failed_at.startswith("api.md:"), run.output[-3000:]


def _run(tmp_path: Path, *blocks: tuple[str, str]) -> tuple[int, str | None, str]:
    made = [Block("page.md", 10 * n + 1, lang, code, None) for n, (lang, code) in enumerate(blocks)]
    (tmp_path / "w").mkdir(parents=True)
    run = run_page(made, tmp_path / "w", timeout_s=30)
    return run.returncode, run.failed_at, run.output


def test_state_carries_between_blocks_and_a_failing_command_is_named(tmp_path: Path) -> None:
    code, at, out = _run(
        tmp_path, ("bash", "X=41\n"), ("sh", "test $((X + 1)) = 42\nfalse\necho never\n")
    )
    assert code != 0 and at == "page.md:12" and "never" not in out, out


def test_a_console_transcript_must_print_what_it_shows(tmp_path: Path) -> None:
    shown = "$ echo hello; exit_code() { return 3; }; exit_code\nhello\n$ echo $?\n3\n"
    code, at, out = _run(tmp_path, ("console", shown))
    assert code == 0, out
    code, at, out = _run(tmp_path / "x", ("console", "$ echo hello\nhallo\n"))
    assert code != 0 and at == "page.md:1" and "did not print: hallo" in out, out
    code, at, out = _run(
        tmp_path / "y", ("console", "$ echo hi  # a comment\nhi\n"), ("bash", "false\n")
    )
    assert code != 0 and at == "page.md:11", out  # the lines after a transcript keep their place


def test_a_page_runs_where_it_cannot_touch_the_repository(tmp_path: Path) -> None:
    code, _, out = _run(tmp_path, ("bash", 'test -f examples/jifen-rules.yaml\necho "$PWD"\n'))
    assert code == 0 and str(tmp_path / "w") in out, out
