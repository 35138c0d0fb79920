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
TIMEOUT_MS = 15_000  # a liveness bound per step on a loaded machine (actions and expectations)
expect.set_options(timeout=TIMEOUT_MS)


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


def sign_in_with_key(page: Page, key: str, home: str, shots: Shots) -> None:
    page.goto("/signin")
    page.locator('form[action="/signin"] input[name="key"]').fill(key)
    shots.take(page, "signin")
    page.locator('form[action="/signin"] button[type="submit"]').click()
    page.wait_for_url(f"**{home}")


def sign_in_with_sms(page: Page, site: Site, phone_number: str, shots: Shots) -> None:
    """The member's sign-in: the phone number, then the code the console SMS provider logged;
    a first sign-in shows the privacy notice to acknowledge (PII-4) before the balance."""
    page.goto("/me/signin")
    page.get_by_test_id("member-phone").fill(phone_number)
    shots.take(page, "member-signin")
    seen = len(site.serve.lines)
    page.get_by_test_id("member-send-code").click()
    match = SMS_CODE.search(site.serve.wait_for(SMS_CODE, after=seen))
    assert match is not None
    assert match.group(1) == phone_number[:3] + "****" + phone_number[-4:]  # masked in the log
    expect(page.get_by_test_id("member-code-sent")).to_be_visible()
    shots.take(page, "member-signin-code")
    page.get_by_test_id("member-code").fill(match.group(2))
    page.get_by_test_id("member-signin-submit").click()
    expect(page.get_by_test_id("notice-ack")).to_be_visible()
    shots.take(page, "member-privacy-notice")
    page.get_by_test_id("notice-ack").click()
    expect(page.get_by_test_id("balance-available")).to_be_visible()


# -- the member and the merchant -----------------------------------------------------------------

ORDER_REF, REDEMPTION_REF = "till-0001", "till-0002"


def test_a_member_earns_at_the_till_waits_for_release_and_redeems(
    browser: Browser, tmp_path: Path
) -> None:
    shots = Shots(SHOTS / "member-and-merchant")
    with (
        open_site(tmp_path, "--sms", "console") as site,
        person(browser, site) as till,
        person(browser, site, phone=True) as member,
    ):
        sign_in_with_key(till, site.alliance.merchant_keys["cafe"], "/merchant", shots)
        shots.take(till, "merchant-home")
        record_an_order(till, shots)

        sign_in_with_sms(member, site, PHONE_NUMBER, shots)
        expect(member.get_by_test_id("balance-pending")).to_have_text("128")
        expect(member.get_by_test_id("balance-available")).to_have_text("0")
        line = member.get_by_test_id("pending-line")
        expect(line).to_have_count(1)
        expect(line).to_contain_text(ORDER_REF)
        release_day = (T0 + timedelta(days=7)).astimezone(SHANGHAI).date().isoformat()
        expect(line.get_by_test_id("release-date")).to_have_text(release_day)
        no_horizontal_scroll(member)
        shots.take(member, "member-pending")

        site.alliance.release_all()  # the clock 8 days on (past the return window), jobs run
        member.reload()
        expect(member.get_by_test_id("balance-available")).to_have_text("128")
        expect(member.get_by_test_id("no-pending")).to_be_visible()
        no_horizontal_scroll(member)
        balance_shot = shots.take(member, "member-available")

        member.get_by_test_id("to-code").click()
        shots.take(member, "member-code-page")
        member.get_by_test_id("redemption-code-new").click()
        code = member.get_by_test_id("redemption-code").inner_text().replace(" ", "")
        assert re.fullmatch(r"\d{6,}", code), code
        expect(member.get_by_test_id("redemption-qr")).to_be_visible()
        no_horizontal_scroll(member)
        shots.take(member, "member-redemption-code")

        redemption_shot = accept_the_code(till, code, shots)
        member.goto("/me")
        expect(member.get_by_test_id("balance-available")).to_have_text("78")
        shots.take(member, "member-after-redemption")

        auditor_verifies_clean(browser, site, shots)
    readme_image(balance_shot, "member-balance-phone.png")
    readme_image(redemption_shot, "merchant-redemption.png")


def record_an_order(till: Page, shots: Shots) -> None:
    """A cash order of ¥128.00 for the member (by phone number), at the till: 128 points
    pending, at 1 point a yuan."""
    form = till.get_by_test_id("order-form")
    form.get_by_test_id("order-member").fill(PHONE_NUMBER)
    form.get_by_test_id("order-ref").fill(ORDER_REF)
    form.get_by_test_id("order-amount").fill("128.00")
    shots.take(till, "merchant-order-form")
    form.get_by_test_id("order-submit").click()
    expect(till.get_by_test_id("order-recorded")).to_be_visible()
    expect(till.get_by_test_id("order-points")).to_contain_text("128")
    shots.take(till, "merchant-order-recorded")


def accept_the_code(till: Page, code: str, shots: Shots) -> Path:
    """50 points off a ¥60.00 order, by the code the member shows (typed in)."""
    till.get_by_test_id("merchant-nav-redeem").click()
    form = till.get_by_test_id("redeem-form")
    form.get_by_test_id("redeem-code").fill(code)
    form.get_by_test_id("redeem-points").fill("50")
    form.get_by_test_id("redeem-order-ref").fill(REDEMPTION_REF)
    form.get_by_test_id("redeem-amount").fill("60.00")
    shots.take(till, "merchant-redeem-form")
    form.get_by_test_id("redeem-submit").click()
    expect(till.get_by_test_id("redemption-points")).to_have_text("50")
    expect(till.get_by_test_id("redemption-row")).to_have_count(1)
    return shots.take(till, "merchant-redemption-accepted")


def auditor_verifies_clean(browser: Browser, site: Site, shots: Shots) -> None:
    """The auditor's "verify now" over the books the story wrote: passed, with the lanes'
    latest block hashes to write down."""
    with person(browser, site) as auditor:
        sign_in_with_key(auditor, site.auditor_key, "/auditor", shots)
        expect(auditor.get_by_test_id("lane-hash").first).to_have_text(re.compile("^[0-9a-f]{64}$"))
        shots.take(auditor, "auditor-home")
        auditor.get_by_test_id("verify-link").click()
        shots.take(auditor, "auditor-verify")
        auditor.get_by_test_id("verify-submit").click()
        result = auditor.get_by_test_id("verify-result")
        expect(result).to_have_attribute("data-state", "passed", timeout=60_000)  # page refreshes
        expect(auditor.get_by_test_id("verify-finding")).to_have_count(0)
        expect(auditor.get_by_test_id("verify-lane-row").first).to_be_visible()
        shots.take(auditor, "auditor-verified")


# -- the operator and the public -----------------------------------------------------------------

EARN = re.compile(r'(points_per_yuan"?: *)\d+')  # in the document as YAML or JSON
REASON = "双倍积分 double points"


def test_the_operator_fixes_a_refused_rule_and_the_public_sees_it_coming(
    browser: Browser, tmp_path: Path
) -> None:
    shots = Shots(SHOTS / "operator-and-public")
    with open_site(tmp_path) as site, person(browser, site) as operator:
        sign_in_with_key(operator, site.operator_key, "/operator", shots)
        shots.take(operator, "operator-home")
        operator.get_by_test_id("nav-rules").click()
        shots.take(operator, "operator-rules")

        draft(operator, shots, points_per_yuan=100)  # FUND-2: the whole purchase back in points
        expect(operator.get_by_test_id("lint-refused")).to_be_visible()
        expect(
            operator.locator('[data-testid="finding"][data-finding="FUND-2"]').first
        ).to_be_visible()
        expect(operator.get_by_test_id("publish-blocked")).to_be_visible()
        expect(operator.get_by_test_id("publish-form")).to_have_count(0)
        findings_shot = shots.take(operator, "operator-rule-findings")

        operator.get_by_test_id("publish-blocked").get_by_role("link").click()
        draft(operator, shots, points_per_yuan=2)  # double points: a change with notice
        expect(operator.get_by_test_id("lint-clean")).to_be_visible()
        shots.take(operator, "operator-rule-clean")
        date_box = operator.get_by_test_id("publish-date")
        effective_day = date_box.get_attribute("min")  # the earliest the notice allows
        assert effective_day, "the publish form names no earliest day"
        date_box.fill(effective_day)
        operator.get_by_test_id("publish-reason").fill(REASON)
        operator.get_by_test_id("publish-submit").click()
        status = operator.get_by_test_id("version-status")
        expect(status).to_have_attribute("data-status", "published")  # announced, not in force
        shots.take(operator, "operator-rule-published")

        with person(browser, site) as public:
            public.goto("/")
            upcoming = public.get_by_test_id("upcoming-change")
            expect(upcoming).to_have_count(1)
            expect(upcoming.get_by_test_id("upcoming-effective")).to_contain_text(effective_day)
            expect(upcoming.get_by_test_id("upcoming-reason")).to_have_text(REASON)
            expect(upcoming.get_by_test_id("upcoming-diff")).to_contain_text("points_per_yuan")
            shots.take(public, "public-upcoming")
    readme_image(findings_shot, "operator-rule-findings.png")


def draft(operator: Page, shots: Shots, *, points_per_yuan: int) -> None:
    """From the rules page or a draft form: the document in force with its earn rate changed,
    saved as a draft (the version's page then shows the linter's findings)."""
    if not operator.get_by_test_id("draft-document").count():
        operator.get_by_test_id("new-draft").click()
    document = operator.get_by_test_id("draft-document")
    text, found = EARN.subn(rf"\g<1>{points_per_yuan}", document.input_value(), count=1)
    assert found == 1, text
    document.fill(text)
    shots.take(operator, "operator-draft-form")
    operator.get_by_test_id("draft-submit").click()
    expect(operator.get_by_test_id("lint")).to_be_visible()


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
                    sign_in_with_sms(page, site, PHONE_NUMBER, shots)
                else:
                    sign_in_with_key(page, keys[role], f"/{role}", shots)
                no_horizontal_scroll(page)
                shots.take(page, role)


def readme_image(shot: Path, name: str) -> None:
    """``JIFEN_UPDATE_SCREENSHOTS=1``: refresh one of the README's screenshots from this run."""
    if UPDATE:
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_IMAGES / name)


def test_the_watch_sees_a_policy_violation_and_a_missing_static_file(browser: Browser) -> None:
    """The checks above are not vacuous: a page whose policy forbids its inline style, and which
    names a stylesheet that is not there, is caught by both."""
    context = browser.new_context()
    page = context.new_page()
    watch = Watch()
    watch.follow(page)
    page.route(
        "http://jifen.test/",
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "text/html", "Content-Security-Policy": "style-src 'self'"},
            body='<link rel="stylesheet" href="/static/gone.css"><p style="color:red">x</p>',
        ),
    )
    page.route("http://jifen.test/static/gone.css", lambda route: route.fulfill(status=404))
    page.goto("http://jifen.test/")
    page.wait_for_load_state("networkidle")
    context.close()
    assert watch.csp_violations(), watch.console
    assert "http://jifen.test/static/gone.css: 404" in watch.static_failures
    with pytest.raises(AssertionError):
        watch.assert_clean()
