"""The consoles in a real browser (issue 13): headless Chromium (Debian's, tests/browser_kit.py)
against the real `jifen serve` on loopback, on a fresh store with a simulated clock.

The story, as people would live it: a merchant records an order for a member at the till; the
member signs in with the SMS code (read from the console SMS provider's log line), sees the
points pending with their release date, and, once the clock has passed the return window and the
daily jobs have run, sees them available and shows a redemption code, which the merchant types
in to accept. The auditor's "verify now" then finds the books clean. Apart from that, the
operator drafts a rule the linter refuses, fixes it and publishes it with notice, and the public
page shows the change coming. Every page visited is saved as a full-page screenshot
(build/screenshots/), and each role's home page is checked at a 375 px wide phone screen.

With ``JIFEN_UPDATE_SCREENSHOTS=1`` the three zh-CN screenshots the README shows are copied to
docs/img/consoles/ (docs/consoles.md, "Browser tests").
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from alliance_http import Alliance, open_alliance_over_http
from api_server import KYC, SECRET, T0
from browser_kit import DESKTOP, PHONE, ROOT, SHOTS, Shots, Watch, launch, no_horizontal_scroll
from serve_kit import Serve, jifen_serve

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE_NUMBER = "13800138000"
SMS_CODE = re.compile(r"sms code for (\S+): (\d{6})")
README_IMAGES = ROOT / "docs" / "img" / "consoles"
UPDATE = os.environ.get("JIFEN_UPDATE_SCREENSHOTS") == "1"
TIMEOUT_MS = 15_000  # a liveness bound per step on a loaded machine


@dataclass
class Site:
    serve: Serve
    alliance: Alliance
    member_id: str
    auditor_key: str

    @property
    def operator_key(self) -> str:
        return self.serve.operator_key


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright.chromium)
        yield chromium
        chromium.close()


@contextmanager
def open_site(tmp_path: Path, *options: str) -> Iterator[Site]:
    """`jifen serve` on a fresh store at T0 with the rules in force, the café (two stores) and
    the cinema onboarded, one member enrolled, an auditor's key; all through the API."""
    db = f"sqlite:///{tmp_path / 'jifen.db'}"
    with jifen_serve(db, *options, simulated_clock=T0, env={"JIFEN_SECRET": SECRET}) as serve:
        alliance = open_alliance_over_http(serve, {"cinema": "cinema"})  # type: ignore[arg-type]
        with serve.operator() as op:
            r = op.post(
                "/v1/merchants",
                json={"merchant_id": "cafe", "name": "星光咖啡", "category": "cafe", "kyc": KYC,
                      "stores": [{"store_id": "s1", "name": "国贸店", "city": "北京"}]},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            alliance.merchant_keys["cafe"] = r.json()["api_key"]
            r = op.post("/v1/auditors", json={"name": "audit-firm"})
            assert r.status_code == 201, r.text
            auditor_key = str(r.json()["api_key"])
        member_id = alliance.enrol(PHONE_NUMBER)
        yield Site(serve, alliance, member_id, auditor_key)


@contextmanager
def person(browser: Browser, site: Site, *, phone: bool = False) -> Iterator[Page]:
    """One person's browser window (cookies of its own), zh-CN, a desktop or a phone screen;
    at the end, the page must have reported no CSP violation and no failed /static request."""
    options: dict[str, object] = (
        {"viewport": PHONE, "device_scale_factor": 2} if phone else {"viewport": DESKTOP}
    )
    context: BrowserContext = browser.new_context(
        base_url=site.serve.base_url, locale="zh-CN", **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    watch = Watch()
    page = context.new_page()
    watch.follow(page)
    try:
        yield page
    finally:
        context.close()
    watch.assert_clean()


def sign_in_with_key(page: Page, key: str, home: str) -> None:
    page.goto("/signin")
    page.locator('form[action="/signin"] input[name="key"]').fill(key)
    page.locator('form[action="/signin"] button[type="submit"]').click()
    page.wait_for_url(f"**{home}")


def sign_in_with_sms(page: Page, site: Site, phone_number: str) -> None:
    """The member's sign-in: the phone number, then the code the console SMS provider logged."""
    page.goto("/me/signin")
    seen = len(site.serve.lines)
    page.get_by_test_id("sms-phone").fill(phone_number)
    page.get_by_test_id("sms-send").click()
    match = SMS_CODE.search(site.serve.wait_for(SMS_CODE, after=seen))
    assert match is not None
    assert match.group(1) == phone_number[:3] + "****" + phone_number[-4:]  # masked in the log
    page.get_by_test_id("sms-code").fill(match.group(2))
    page.get_by_test_id("sms-verify").click()
    page.wait_for_url(re.compile(r"/me(/|$|\?)"))


# -- the member and the merchant -----------------------------------------------------------------


def test_a_member_earns_at_the_till_waits_for_release_and_redeems(
    browser: Browser, tmp_path: Path
) -> None:
    shots = Shots(SHOTS / "member-and-merchant")
    with (
        open_site(tmp_path, "--sms", "console") as site,
        person(browser, site) as till,
        person(browser, site, phone=True) as member,
    ):
        sign_in_with_key(till, site.alliance.merchant_keys["cafe"], "/merchant")
        shots.take(till, "merchant-home")
        record_an_order(till, site, shots)

        sign_in_with_sms(member, site, PHONE_NUMBER)
        shots.take(member, "member-home")
        pending = member.get_by_test_id("balance-pending")
        expect(pending).to_contain_text("128")
        release_day = (T0 + timedelta(days=7)).astimezone(SHANGHAI).date().isoformat()
        expect(member.get_by_test_id("pending-line").first).to_contain_text(release_day)
        no_horizontal_scroll(member)
        shots.take(member, "member-pending")

        site.alliance.release_all()  # the clock past the return window, the daily jobs run
        member.reload()
        expect(member.get_by_test_id("balance-available")).to_contain_text("128")
        no_horizontal_scroll(member)
        balance_shot = shots.take(member, "member-available")

        member.get_by_test_id("redemption-code-new").click()
        code = member.get_by_test_id("redemption-code").inner_text().strip()
        assert re.fullmatch(r"\d{6,}", code.replace(" ", "")), code
        no_horizontal_scroll(member)
        shots.take(member, "member-redemption-code")

        redemption_shot = accept_the_code(till, code.replace(" ", ""), shots)
        member.reload()
        expect(member.get_by_test_id("balance-available")).to_contain_text("78")
        shots.take(member, "member-after-redemption")

        auditor_verifies_clean(browser, site, shots)
    readme_image(balance_shot, "member-balance-phone.png")
    readme_image(redemption_shot, "merchant-redemption.png")


def record_an_order(till: Page, site: Site, shots: Shots) -> None:
    """A cash order of ¥128.00 for the member, at the till (1 point a yuan: 128 pending)."""
    till.get_by_test_id("nav-orders").click()
    form = till.get_by_test_id("order-form")
    form.get_by_test_id("order-member").fill(site.member_id)
    form.get_by_test_id("order-amount").fill("128.00")
    form.get_by_test_id("order-ref").fill("till-0001")
    shots.take(till, "merchant-order-form")
    form.get_by_test_id("order-submit").click()
    expect(till.get_by_test_id("order-row").first).to_contain_text("till-0001")
    shots.take(till, "merchant-order-recorded")


def accept_the_code(till: Page, code: str, shots: Shots) -> Path:
    """50 points off a ¥60.00 order, by the code the member shows."""
    till.get_by_test_id("nav-redeem").click()
    form = till.get_by_test_id("redeem-form")
    form.get_by_test_id("redeem-code").fill(code)
    form.get_by_test_id("redeem-points").fill("50")
    form.get_by_test_id("redeem-order-amount").fill("60.00")
    form.get_by_test_id("redeem-order-ref").fill("till-0002")
    shots.take(till, "merchant-redeem-form")
    form.get_by_test_id("redeem-submit").click()
    expect(till.get_by_test_id("redemption-accepted")).to_contain_text("50")
    return shots.take(till, "merchant-redemption-accepted")


def auditor_verifies_clean(browser: Browser, site: Site, shots: Shots) -> None:
    with person(browser, site) as auditor:
        sign_in_with_key(auditor, site.auditor_key, "/auditor")
        shots.take(auditor, "auditor-home")
        auditor.get_by_test_id("verify-now").click()
        expect(auditor.get_by_test_id("verify-result")).to_have_attribute(
            "data-status", "clean", timeout=60_000
        )
        expect(auditor.get_by_test_id("latest-hash").first).to_contain_text(
            re.compile(r"[0-9a-f]{64}")
        )
        shots.take(auditor, "auditor-verified")


# -- the operator and the public -----------------------------------------------------------------

FULL_REBATE = "earn:\n  points_per_yuan: 100\n"  # FUND-2: the whole purchase back
FIXED = "earn:\n  points_per_yuan: 2\n"


def test_the_operator_fixes_a_refused_rule_and_the_public_sees_it_coming(
    browser: Browser, tmp_path: Path
) -> None:
    shots = Shots(SHOTS / "operator-and-public")
    with open_site(tmp_path) as site, person(browser, site) as operator:
        sign_in_with_key(operator, site.operator_key, "/operator")
        shots.take(operator, "operator-home")
        operator.get_by_test_id("nav-rules").click()
        shots.take(operator, "operator-rules")
        operator.get_by_test_id("draft-text").fill(FULL_REBATE)
        operator.get_by_test_id("draft-submit").click()
        expect(operator.get_by_test_id("finding").first).to_contain_text("FUND-2")
        findings_shot = shots.take(operator, "operator-rule-findings")
        expect(operator.get_by_test_id("publish-submit")).to_have_count(0)  # nothing to publish

        operator.get_by_test_id("draft-text").fill(FIXED)
        operator.get_by_test_id("draft-submit").click()
        expect(operator.get_by_test_id("finding")).to_have_count(0)
        shots.take(operator, "operator-rule-clean")
        effective = (T0 + timedelta(days=31)).astimezone(SHANGHAI)
        operator.get_by_test_id("publish-effective").fill(effective.strftime("%Y-%m-%dT%H:%M"))
        operator.get_by_test_id("publish-reason").fill("双倍积分 double points")
        operator.get_by_test_id("publish-submit").click()
        expect(operator.get_by_test_id("version-row").first).to_contain_text("双倍积分")
        shots.take(operator, "operator-rule-published")

        with person(browser, site) as public:
            public.goto("/")
            shots.take(public, "public-home")
            upcoming = public.get_by_test_id("upcoming-change").first
            expect(upcoming).to_contain_text(effective.date().isoformat())
            expect(upcoming).to_contain_text("双倍积分 double points")
            shots.take(public, "public-upcoming")
    readme_image(findings_shot, "operator-rule-findings.png")


# -- every role on a phone -----------------------------------------------------------------------


def test_every_role_s_home_page_is_usable_on_a_375px_phone(
    browser: Browser, tmp_path: Path
) -> None:
    shots = Shots(SHOTS / "phone")
    with open_site(tmp_path, "--sms", "console") as site:
        site.alliance.order("cafe", "api-0001", site.member_id, 12_800)
        keys = {
            "merchant": site.alliance.merchant_keys["cafe"],
            "operator": site.operator_key,
            "auditor": site.auditor_key,
        }
        for role in ("public", "member", "merchant", "operator", "auditor"):
            with person(browser, site, phone=True) as page:
                if role == "public":
                    page.goto("/")
                elif role == "member":
                    sign_in_with_sms(page, site, PHONE_NUMBER)
                else:
                    sign_in_with_key(page, keys[role], f"/{role}")
                no_horizontal_scroll(page)
                shots.take(page, role)


def readme_image(shot: Path, name: str) -> None:
    """``JIFEN_UPDATE_SCREENSHOTS=1``: refresh one of the README's screenshots from this run."""
    if UPDATE:
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_IMAGES / name)
