"""Every console page in zh-CN and in en, with no word left untranslated (issue 13).

Two halves: the templates hold no literal words (every word is ``t("web.…")``, so a new page
cannot forget the catalogue), and a crawl, as each role, of every page reachable by following
links from the role's home, in both languages: each page answers 200, an English page shows no
Chinese outside what people typed (marked ``translate="no"``), and no message id leaks. The crawl
must reach every GET page the consoles route, so a page nobody links to fails here too.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

import jifen.web
from api_server import OPERATOR_KEY
from jifen.proofs import take_checkpoint
from web_kit import Browser, auditor_key, merchant_key, site_alliance, web_routes

TEMPLATES = Path(jifen.web.__file__).parent / "templates"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TAG = re.compile(r"<[^>]*>", re.S)
HUMAN_ATTRS = ("placeholder", "title", "alt", "aria-label", "label")
WORDS = re.compile(r"[A-Za-z\u3400-\u9fff]")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
MESSAGE_ID = re.compile(r"\bweb\.[a-z_]+\.[a-z_.]+")
MAX_PAGES = 300
NOT_CRAWLED = ("/static/", "/lang/", "/v1/", "/docs", "/redoc", "/openapi.json", "/metrics")
UNLINKED_ROUTES: set[str] = set()
"""GET pages no link leads to by design (none yet); each needs a reason beside it."""


def _literal_words(source: str) -> list[str]:
    bare = JINJA.sub("\x00", source)
    found: list[str] = []
    for tag in TAG.findall(bare):
        for attr in HUMAN_ATTRS:
            for value in re.findall(rf'\b{attr}="([^"]*)"', tag):
                if WORDS.search(value.replace("\x00", "")):
                    found.append(f"{attr}={value!r}")
    text = TAG.sub(" ", bare)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    found.extend(w for w in text.split() if WORDS.search(w.replace("\x00", "")))
    return found


def test_templates_hold_no_literal_words() -> None:
    bad = {
        str(p.relative_to(TEMPLATES)): words
        for p in sorted(TEMPLATES.rglob("*.html"))
        if (words := _literal_words(p.read_text()))
    }
    assert not bad, f"words outside the catalogue (use t('web.…')): {bad}"


def test_the_literal_word_check_sees_words() -> None:
    assert _literal_words("<p>余额</p>") and _literal_words('<input placeholder="Phone">')
    assert not _literal_words('<p>{{ t("web.x") }}</p><input placeholder="{{ t(\'web.y\') }}">')


class _Visible(HTMLParser):
    """Text a reader sees (and the attributes read aloud), without what people typed."""

    VOID: ClassVar[set[str]] = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
    }

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if self._skip and tag not in self.VOID:
            self._skip.append(tag)
            return
        if a.get("translate") == "no" and tag not in self.VOID:
            self._skip.append(tag)
            return
        if a.get("translate") != "no":
            self.parts.extend(str(a[k]) for k in HUMAN_ATTRS if a.get(k))
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.parts.append(str(a["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _read(html: str) -> _Visible:
    v = _Visible()
    v.feed(html)
    return v


def test_the_visible_text_reader_skips_what_people_typed() -> None:
    v = _read('<p>Balance <span translate="no">Alpha 咖啡</span></p><a href="/x">go</a>')
    assert "咖啡" not in " ".join(v.parts) and "Balance" in " ".join(v.parts)
    assert v.links == ["/x"]


def _check(path: str, html: str, lang: str) -> _Visible:
    seen = _read(html)
    text = " ".join(seen.parts)
    leaked = MESSAGE_ID.findall(text)
    assert not leaked, f"{path} ({lang}) shows message ids {leaked}"
    if lang == "en":
        chinese = sorted(set(CJK.findall(text)))
        assert not chinese, f"{path} (en) shows untranslated text: {chinese}: {text[:600]}"
    else:
        assert CJK.search(text), f"{path} (zh-CN) shows no Chinese at all"
    return seen


def _crawl(browser: Browser, starts: list[str], lang: str) -> set[str]:
    seen: set[str] = set()
    queue = deque(starts)
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft().split("#")[0]
        if path in seen or not path.startswith("/") or path.startswith(NOT_CRAWLED):
            continue
        seen.add(path)
        r = browser.get(path, headers={"accept": "text/html"})
        assert r.status_code == 200, (lang, path, r.status_code, r.text[:800])
        if not r.headers["content-type"].startswith("text/html"):
            continue  # an export (CSV, JSON): answered, not a page
        assert r.headers["content-language"] == lang, path
        queue.extend(_check(path, r.text, lang).links)
    assert len(seen) < MAX_PAGES, "the crawl found more pages than it may visit"
    return seen


def _page_routes(app: object) -> dict[str, re.Pattern[str]]:
    return {
        route.path: route.path_regex
        for route in web_routes(app)
        if "GET" in getattr(route, "methods", ()) and not route.path.startswith("/lang/")
    }


@pytest.mark.slow
def test_every_page_in_both_languages(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        server = tools.server
        take_checkpoint(server.ctx, idem_key="crawl")  # so the proof pages have their figures
        visited: set[str] = set()
        for lang in ("zh-CN", "en"):
            anonymous = Browser(server, lang)
            visited |= _crawl(anonymous, ["/", "/signin", "/me/signin"], lang)
            roles = {
                "/operator": OPERATOR_KEY,
                "/merchant": merchant_key(tools, "alpha"),
                "/auditor": auditor_key(server),
            }
            for home, key in roles.items():
                b = Browser(server, lang)
                b.sign_in(key)
                visited |= _crawl(b, [home], lang)
            member = Browser(server, lang)
            member.as_member(tools.members[0])
            visited |= _crawl(member, ["/me"], lang)
        routes = _page_routes(server.app)
        unreached = {
            path
            for path, regex in routes.items()
            if path not in UNLINKED_ROUTES
            and not any(regex.match(v.split("?")[0]) for v in visited)
        }
        assert not unreached, f"no link leads to these pages: {sorted(unreached)}"
