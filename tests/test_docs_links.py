"""Every link in README.md and docs/ leads somewhere in the repository: a relative link to a file
that exists (and, with ``#anchor``, to a heading of that page), and every ``*.md`` file a page
names is one of the repository's, so no page cites a file a reader cannot open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs_kit import DOCS, FENCE, ROOT

PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
NAMED_MD = re.compile(r"(?<![\w/.-])([\w./-]*\w\.md)\b")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, …


def _prose(page: Path) -> str:
    """The page without its fenced blocks (code may name files of the reader's own)."""
    return FENCE.sub("", page.read_text())


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]{1,2}(?=\S)|(?<=\S)[`*_]{1,2}", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _prose(page), re.M):
        base, n = slug(heading), 0
        while (f"{base}-{n}" if n else base) in found:
            n += 1
        found.add(f"{base}-{n}" if n else base)
    return found


def _relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page)) if not EXTERNAL.match(t)]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_resolves_to_a_file_of_the_repository(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.is_relative_to(ROOT) or not dest.exists():
            broken.append(f"{target}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: {dest.name} has no heading #{anchor}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_markdown_file_a_page_names_is_in_the_repository(page: Path) -> None:
    missing = []
    for name in set(NAMED_MD.findall(_prose(page))):
        candidates = (page.parent / name, ROOT / name, DOCS / Path(name).name)
        if not any(c.resolve().is_relative_to(ROOT) and c.exists() for c in candidates):
            missing.append(name)
    assert not missing, f"{page.name} names files that are not in the repository: {missing}"


def test_the_checks_see_a_broken_link_and_a_missing_file(tmp_path: Path) -> None:
    page = DOCS / "api.md"
    assert "operations.md" in {t.partition("#")[0] for t in _relative_links(page)}
    assert "errors-rfc-9457-problem-details" in anchors(page)
    assert slug("The simulated clock 模拟时钟") == "the-simulated-clock-模拟时钟"
    assert slug("Errors: RFC 9457 problem details") == "errors-rfc-9457-problem-details"
    assert NAMED_MD.findall("see `schemes.md` and ../shared/compliance.md.") == [
        "schemes.md", "../shared/compliance.md",
    ]  # fmt: skip
