"""The operator's console (issue 13, Build §4): merchants (onboard with the key shown once,
suspend and reactivate with a reason, CSV imports with a dry run), rule versions (a draft the
linter refuses, fixed and published with notice and reason, then withdrawn), and who may not."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from api_server import OPERATOR_KEY
from test_web_i18n import _check
from web_kit import Browser, auditor_key, merchant_key, operator, site_alliance

KEY = re.compile(r'data-testid="api-key">([^<]+)<')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
DOCUMENT = re.compile(r'data-testid="draft-document">(.*?)</textarea>', re.S)


def _form_key(html: str) -> str:
    found = FORM_KEY.search(html)
    assert found, html[:2000]
    return found.group(1)


def _unescape(text: str) -> str:
    return (
        text.replace("&#34;", '"').replace("&quot;", '"').replace("&#39;", "'")
        .replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )  # fmt: skip


def _onboard(b: Browser, merchant_id: str) -> str:
    html = b.page("/operator/merchants/new")
    return b.submit(
        "/operator/merchants",
        {
            "merchant_id": merchant_id,
            "name": "Gamma 书店",
            "category": "books",
            "legal_name": "伽马书店有限公司",
            "licence_no": "91110105MA01ABCD3X",
            "contact_name": "王五",
            "stores": "g1:望京店:北京\ng2:国贸店",
            "form_key": _form_key(html),
        },
    ).text


def test_onboarding_shows_the_key_once_and_the_merchant_can_sign_in(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = operator(tools.server)
        html = b.page("/operator/merchants/new")
        data = {
            "merchant_id": "gamma", "name": "Gamma 书店", "category": "books",
            "legal_name": "伽马书店有限公司", "licence_no": "91110105MA01ABCD3X",
            "stores": "g1:望京店:北京", "form_key": _form_key(html),
        }  # fmt: skip
        first = b.submit("/operator/merchants", data)
        assert first.status_code == 200, first.text
        key = KEY.search(first.text)
        assert key and key.group(1).startswith("jf"), first.text
        again = b.submit("/operator/merchants", data)  # a reload posts the same form again
        assert again.status_code == 200 and not KEY.search(again.text)
        assert 'data-testid="api-key-shown-before"' in again.text
        assert 'data-merchant="gamma"' in b.page("/operator/merchants")
        assert "望京店" in b.page("/operator/merchants/gamma")
        till = Browser(tools.server)
        till.sign_in(key.group(1))
        till.page("/merchant")
        bad = b.submit("/operator/merchants", {**data, "licence_no": "x", "form_key": "k2"})
        assert bad.status_code == 422 and "kyc.licence_no" in bad.text


def test_suspending_a_merchant_ends_its_console_session(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        till = Browser(tools.server)
        till.sign_in(merchant_key(tools, "alpha"))
        till.page("/merchant")
        b = operator(tools.server)
        html = b.page("/operator/merchants/alpha")
        r = b.submit(
            "/operator/merchants/alpha/status",
            {
                "status": "suspended",
                "reason": "证照过期 licence expired",
                "form_key": _form_key(html),
            },
        )
        assert r.status_code == 200 and str(r.url).endswith("/operator/merchants/alpha")
        assert 'data-testid="merchant-status">已暂停' in r.text and "licence expired" in r.text
        gone = till.get("/merchant", headers={"accept": "text/html"})
        assert "/signin" in str(gone.url)  # sent back to sign in
        till.page("/signin")
        refused = till.submit("/signin", {"key": merchant_key(tools, "alpha")})
        assert refused.status_code == 403 and "已被暂停" in refused.text  # told why, not looped
        html = b.page("/operator/merchants/alpha")
        r = b.submit(
            "/operator/merchants/alpha/status",
            {"status": "active", "reason": "证照已更新", "form_key": _form_key(html)},
        )
        assert 'data-testid="merchant-status">正常' in r.text
        assert r.text.count('data-testid="status-change"') == 2
        till.sign_in(merchant_key(tools, "alpha"))
        till.page("/merchant")


MERCHANTS_CSV = (
    "merchant_id,name,category,legal_name,licence_no,stores\n"
    "delta,Delta 面包,bakery,德尔塔食品有限公司,91110105MA01ABCD4X,d1:望京店:北京\n"
    "epsilon,Epsilon 花店,florist,艾普西隆花艺有限公司,91110105MA01ABCD5X,\n"
)


def test_csv_import_dry_run_then_apply(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = operator(tools.server)
        b.page("/operator/imports")
        files = {"file": ("m.csv", MERCHANTS_CSV.encode(), "text/csv")}
        checked = b.submit("/operator/imports/merchants/check", files=files)
        assert checked.status_code == 200, checked.text
        assert checked.text.count('data-testid="import-row"') == 2
        assert 'data-testid="import-apply"' in checked.text
        assert 'data-merchant="delta"' not in b.page("/operator/merchants")  # nothing written
        b.token = re.search(r'name="csrf" value="([^"]+)"', checked.text).group(1)  # type: ignore[union-attr]
        text = _unescape(
            re.search(r'name="text" hidden readonly>(.*?)</textarea>', checked.text, re.S).group(1)
        )  # type: ignore[union-attr]
        applied = b.submit("/operator/imports/merchants/apply", files={"text": (None, text)})
        assert applied.status_code == 200 and 'data-testid="import-written"' in applied.text
        listed = b.page("/operator/merchants")
        assert 'data-merchant="delta"' in listed and 'data-merchant="epsilon"' in listed
        b.page("/operator/imports")
        members = "phone,terms,privacy\n13700137000,1,1\n"
        r = b.submit("/operator/imports/members/check", files={"file": ("p.csv", members.encode())})
        assert r.status_code == 200 and r.text.count('data-testid="import-row"') == 1


def test_a_bad_import_file_shows_every_rows_error_and_writes_nothing(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = operator(tools.server)
        bad = MERCHANTS_CSV + "Bad Id,,bakery,x,short,\ndelta,Other,bakery,y,91110105MA01ABCD4X,\n"
        b.page("/operator/imports")
        r = b.submit("/operator/imports/merchants/check", files={"file": ("m.csv", bad.encode())})
        assert r.status_code == 422
        rows = set(re.findall(r'data-testid="import-error" data-row="(\d+)"', r.text))
        assert rows == {"4", "5"}, r.text  # each bad row named, the good ones not
        assert 'data-testid="import-apply"' not in r.text
        en = operator(tools.server, "en")
        en.page("/operator/imports")
        english = en.submit(
            "/operator/imports/merchants/check", files={"file": ("m.csv", bad.encode())}
        )
        _check("/operator/imports/merchants/check", english.text, "en")
        b.token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        applied = b.submit("/operator/imports/merchants/apply", files={"text": (None, bad)})
        assert applied.status_code == 422 and 'data-testid="import-refused"' in applied.text
        assert 'data-merchant="delta"' not in b.page("/operator/merchants")


def _draft(b: Browser, document: dict[str, object], start: str = "") -> str:
    html = b.page("/operator/rules/draft" + start)
    r = b.submit(
        "/operator/rules/drafts",
        {"document": json.dumps(document, ensure_ascii=False), "form_key": _form_key(html)},
    )
    assert r.status_code == 200 and "/operator/rules/" in str(r.url), r.text[:2000]
    return r.text


def test_a_refused_draft_is_fixed_then_published_and_the_public_api_lists_it(
    tmp_path: Path,
) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = operator(tools.server)
        form = b.page("/operator/rules/draft")
        found = DOCUMENT.search(form)
        assert found, form[:2000]
        document = json.loads(_unescape(found.group(1)))  # starts from the version in force
        with tools.server.operator() as op:
            assert document == op.get("/v1/public/rules/current").json()["document"]
        greedy = {**document, "earn": {**document["earn"], "points_per_yuan": 100}}
        refused = _draft(b, greedy)
        assert 'data-testid="lint-refused"' in refused and 'data-finding="FUND-2"' in refused
        assert 'data-testid="publish-blocked"' in refused and "publish-form" not in refused
        number = re.search(r"/operator/rules/draft\?start=(\d+)", refused).group(1)  # type: ignore[union-attr]
        english = operator(tools.server, "en").page(f"/operator/rules/{number}")
        _check(f"/operator/rules/{number}", english, "en")  # the finding in English, no Chinese
        assert "guaranteed cash rate" in english and "返利" not in english
        # publishing it anyway (a crafted post) is refused by the rulebook
        r = b.submit(
            f"/operator/rules/{number}/publish",
            {"effective_day": "2030-01-01", "reason": "x", "form_key": "web-crafted"},
        )
        assert r.status_code == 422 and 'role="alert">合规检查未通过' in r.text, r.text[:3000]
        fixed_form = b.page(f"/operator/rules/draft?start={number}")
        fixed_doc = json.loads(_unescape(DOCUMENT.search(fixed_form).group(1)))  # type: ignore[union-attr]
        assert fixed_doc["earn"]["points_per_yuan"] == 100  # the refused draft, to fix
        fixed = _draft(b, {**greedy, "earn": {**greedy["earn"], "points_per_yuan": 2}})
        assert 'data-testid="lint-clean"' in fixed and 'data-testid="publish-form"' in fixed
        fixed_number = re.search(r'action="/operator/rules/(\d+)/publish"', fixed).group(1)  # type: ignore[union-attr]
        earliest = re.search(r'min="([0-9-]+)"', fixed).group(1)  # type: ignore[union-attr]
        too_soon = b.submit(
            f"/operator/rules/{fixed_number}/publish",
            {"effective_day": tools.server.clock.now().date().isoformat(), "reason": "双倍积分",
             "form_key": _form_key(fixed)},
        )  # fmt: skip
        assert too_soon.status_code == 422 and 'role="alert">' in too_soon.text
        assert 'data-status="draft"' in too_soon.text  # refused: still a draft
        published = b.submit(
            f"/operator/rules/{fixed_number}/publish",
            {
                "effective_day": earliest,
                "reason": "双倍积分 double points",
                "form_key": _form_key(fixed),
            },
        )
        assert 'data-status="published"' in published.text, published.text[:3000]
        with tools.server.operator() as op:
            upcoming = op.get("/v1/public/rules/upcoming").json()
        assert [v["number"] for v in upcoming] == [int(fixed_number)]
        assert upcoming[0]["reason"] == "双倍积分 double points"
        day_before = date.fromisoformat(earliest) - timedelta(days=1)
        assert upcoming[0]["effective_at"].startswith(f"{day_before}T16:00")  # 00:00 China
        listed = b.page("/operator/rules")
        assert f'data-version="{fixed_number}" data-status="published"' in listed
        assert f'data-version="{number}" data-status="draft"' in listed


def test_withdrawing_an_announced_version(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = operator(tools.server)
        form = b.page("/operator/rules/draft")
        document = json.loads(_unescape(DOCUMENT.search(form).group(1)))  # type: ignore[union-attr]
        drafted = _draft(b, {**document, "notice_days": 45})
        number = re.search(r'action="/operator/rules/(\d+)/publish"', drafted).group(1)  # type: ignore[union-attr]
        earliest = re.search(r'min="([0-9-]+)"', drafted).group(1)  # type: ignore[union-attr]
        published = b.submit(
            f"/operator/rules/{number}/publish",
            {"effective_day": earliest, "reason": "延长通知期", "form_key": _form_key(drafted)},
        )
        assert 'data-testid="withdraw-form"' in published.text
        empty = b.submit(
            f"/operator/rules/{number}/withdraw", {"reason": " ", "form_key": "web-w1"}
        )
        assert empty.status_code == 422
        done = b.submit(
            f"/operator/rules/{number}/withdraw",
            {"reason": "日期有误 wrong date", "form_key": _form_key(published.text)},
        )
        assert 'data-status="withdrawn"' in done.text and "wrong date" in done.text
        with tools.server.operator() as op:
            assert op.get("/v1/public/rules/upcoming").json() == []


def test_a_post_without_the_csrf_token_is_refused(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = operator(tools.server)
        html = b.page("/operator/merchants/alpha")
        r = b.post(
            "/operator/merchants/alpha/status",
            data={"status": "suspended", "reason": "x", "form_key": _form_key(html)},
            headers={"accept": "text/html"},
        )
        assert r.status_code == 403
        assert 'data-testid="merchant-status">正常' in b.page("/operator/merchants/alpha")


OPERATOR_GETS = [
    "/operator", "/operator/merchants", "/operator/merchants/new", "/operator/merchants/alpha",
    "/operator/imports", "/operator/rules", "/operator/rules/draft", "/operator/rules/1",
]  # fmt: skip
OPERATOR_POSTS = [
    "/operator/merchants", "/operator/merchants/alpha/status", "/operator/imports/merchants/check",
    "/operator/imports/members/apply", "/operator/rules/drafts", "/operator/rules/1/publish",
    "/operator/rules/1/withdraw",
]  # fmt: skip


@pytest.mark.parametrize("role", ["merchant", "auditor"])
def test_merchants_and_auditors_get_403_on_every_operator_page_and_post(
    tmp_path: Path, role: str
) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = Browser(tools.server)
        b.sign_in(merchant_key(tools, "alpha") if role == "merchant" else auditor_key(tools.server))
        b.page("/signin")  # a page with a form, for a valid CSRF token
        for path in OPERATOR_GETS:
            b.page(path, status=403)
        for path in OPERATOR_POSTS:
            r = b.submit(path, {"form_key": "web-x", "reason": "x", "status": "suspended"})
            assert r.status_code == 403, (path, r.status_code)
        anonymous = Browser(tools.server)
        r = anonymous.get("/operator/rules", headers={"accept": "text/html"})
        assert "/signin" in str(r.url)
        assert OPERATOR_KEY  # the operator's own key signs in (operator(server) above)
