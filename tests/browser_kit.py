"""Real headless Chromium for the browser tests (tests/test_web_browser.py): Debian's
``/usr/bin/chromium`` (with ``fonts-noto-cjk``, so the zh-CN pages draw their characters) driven
by Playwright through ``executable_path``. Playwright's own browser download cannot work on these
machines, so ``playwright install`` is never run: ``.ci/run`` installs both packages with apt.

A missing browser or font is a failure, never a skip (as a missing PostgreSQL is for
``JIFEN_TEST_PG``, tests/conftest.py): the consoles' only end-to-end check would otherwise go
quiet.

``Watch`` follows a page as a person would not see: every console message (a Content Security
Policy violation is reported there), every request for ``/static`` that failed or was answered
with an error. ``Shots`` saves a full-page screenshot of each page visited, numbered in order,
and checks every page it takes on a phone screen for sideways scrolling.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).parent.parent
SHOTS = ROOT / "build" / "screenshots"  # gitignored; CI leaves them in its clone
DESKTOP = {"width": 1024, "height": 768}
PHONE = {"width": 375, "height": 740}
PHONE_SLACK_PX = 2  # scrollWidth may round up a subpixel border
INSTALL = "apt-get install chromium fonts-noto-cjk (.ci/run does)"


def require_chromium() -> None:
    """Fail (never skip) when the browser or the CJK fonts are missing."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL}", pytrace=False)
    fc_list = shutil.which("fc-list")
    fonts = (
        subprocess.run([fc_list, ":lang=zh-cn", "family"], capture_output=True, text=True).stdout
        if fc_list
        else ""
    )
    if "CJK" not in fonts:
        pytest.fail(f"no CJK font for the zh-CN pages: {INSTALL}", pytrace=False)


@dataclass
class Watch:
    """What a page reported while the test drove it."""

    console: list[str] = field(default_factory=list)
    static_failures: list[str] = field(default_factory=list)

    def follow(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._answered)
        page.on("pageerror", lambda error: self.console.append(f"error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text} ({message.location.get('url')})")

    def _failed(self, request: Request) -> None:
        if "/static/" in request.url:
            self.static_failures.append(f"{request.url}: {request.failure}")

    def _answered(self, response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.static_failures.append(f"{response.url}: {response.status}")

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if re.search(r"Content.Security.Policy", m, re.I)]

    def assert_clean(self) -> None:
        assert not self.csp_violations(), self.csp_violations()
        assert not self.static_failures, self.static_failures
        errors = [m for m in self.console if m.startswith("error")]  # the pages name their icon
        assert not errors, errors


@dataclass
class Shots:
    """Full-page screenshots of every page visited, ``NN-name.png`` in ``folder``."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder)  # only this run's pages
        self.folder.mkdir(parents=True)

    def take(self, page: Page, name: str) -> Path:
        """The page as it is now; on a phone screen, also checked for sideways scrolling."""
        if (page.viewport_size or DESKTOP)["width"] <= PHONE["width"]:
            no_horizontal_scroll(page)
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


def no_horizontal_scroll(page: Page) -> None:
    """Usable at 375 px: nothing wider than the screen, so no sideways scrolling (wide tables
    scroll inside their own ``.scroll`` box, which does not widen the page)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + PHONE_SLACK_PX, f"{page.url} is {width} px wide at 375 px"


def launch(playwright_chromium: object) -> Browser:
    """Debian's Chromium, headless (as root, Playwright passes --no-sandbox itself)."""
    require_chromium()
    browser: Browser = playwright_chromium.launch(  # type: ignore[attr-defined]
        executable_path=str(CHROMIUM), headless=True
    )
    return browser
