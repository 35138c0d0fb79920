"""The member's console (issue 13, Build §2): SMS sign-in, balance, history, redemption code,
privacy notice, my data, consents, and an erasure that is carried out while the books stay
verifiable."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from jifen.alliance import members
from jifen.alliance.errors import MemberNotFound
from jifen.alliance.imports import import_members
from jifen.settlement import verify_books
from jifen.store import tables as t
from tools_kit import Tools
from web_kit import Browser, merchant_key, site_alliance

PHONE = "13800138000"  # tools.members[0]
OTHER_PHONE = "13900139000"  # tools.members[1]
CODE = re.compile(r'data-testid="redemption-code"[^>]*>([0-9 ]+)<')


class Recorder:
    """Keeps the texts it is asked to send (after the page's answer: a background task)."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        self.sent.append((phone, code))

    def wait(self, count: int) -> str:
        """The latest code, once ``count`` texts were sent."""
        deadline = time.monotonic() + 5
        while len(self.sent) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.sent) >= count, self.sent
        return self.sent[-1][1]


class Wall:
    """The consoles' wall clock, moved by the test."""

    def __init__(self) -> None:
        self.at = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def site(tmp_path: Any) -> Iterator[tuple[Tools, Recorder, Wall]]:
    with site_alliance(f"sqlite:///{tmp_path / 'member.db'}") as tools:
        yield (tools, *_with_sms(tools))


def _with_sms(tools: Tools) -> tuple[Recorder, Wall]:
    sms, wall = Recorder(), Wall()
    app = tools.server.app
    app.state.web = dataclasses.replace(app.state.web, sms=sms, now=wall)
    return sms, wall


def _main(html: str) -> str:
    """The page's own content (the header echoes the URL in its language links)."""
    found = re.search(r"<main>(.*)</main>", html, re.S)
    assert found
    return re.sub(r'name="csrf" value="[^"]*"', "", found[1])


def _ask(b: Browser, phone: str) -> str:
    b.page("/me/signin")
    r = b.submit("/me/signin/code", {"phone": phone})
    if r.status_code == 200:
        b.token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    return r.text


def _sign_in(b: Browser, sms: Recorder, phone: str = PHONE) -> Any:
    before = len(sms.sent)
    _ask(b, phone)
    return b.submit("/me/signin", {"phone": phone, "code": sms.wait(before + 1)})


def test_sign_in_with_the_sms_code_then_the_privacy_notice_once(site: Any) -> None:
    tools, sms, wall = site
    b = Browser(tools.server, "en")
    text = _ask(b, PHONE)
    assert "If this number is enrolled, a code was sent" in text
    r = b.submit("/me/signin", {"phone": PHONE, "code": sms.wait(1)})
    assert r.status_code == 200 and r.url.path == "/privacy", r.url  # first sign-in
    assert 'data-testid="notice-ack"' in r.text and 'data-testid="retention-journal"' in r.text
    b.token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = b.submit("/me/privacy/ack")
    assert r.url.path == "/me" and 'data-testid="balance-available"' in r.text
    assert 'data-testid="notice-ack"' not in b.page("/privacy")
    b.cookies.clear()
    wall.at += timedelta(minutes=2)
    r = _sign_in(b, sms)
    assert r.url.path == "/me"  # the notice is shown at the first sign-in only


def test_wrong_expired_reused_codes_and_the_rate_limit_on_the_page(site: Any) -> None:
    tools, sms, wall = site
    b = Browser(tools.server, "en")
    _ask(b, PHONE)
    code = sms.wait(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        r = b.submit("/me/signin", {"phone": PHONE, "code": wrong})
        assert r.status_code == 401 and "The code is wrong, used or expired" in r.text
    r = b.submit("/me/signin", {"phone": PHONE, "code": code})
    assert r.status_code == 401 and "Too many wrong tries" in r.text
    r = b.submit("/me/signin/code", {"phone": PHONE})  # within the minute
    assert r.status_code == 429 and "try again in" in r.text
    wall.at += timedelta(minutes=1, seconds=1)
    _ask(b, PHONE)
    wall.at += timedelta(minutes=5)  # expired
    r = b.submit("/me/signin", {"phone": PHONE, "code": sms.wait(2)})
    assert r.status_code == 401
    wall.at += timedelta(minutes=1)
    r = _sign_in(b, sms)
    assert r.status_code == 200 and r.url.path in ("/me", "/privacy")
    b.cookies.delete("jifen_session")
    b.page("/me/signin")
    r = b.submit("/me/signin", {"phone": PHONE, "code": sms.wait(3)})  # reused
    assert r.status_code == 401


def test_a_number_nobody_enrolled_gets_the_same_page_and_no_sms(site: Any) -> None:
    tools, sms, _ = site
    enrolled = _ask(Browser(tools.server, "en"), PHONE)
    stranger = _ask(Browser(tools.server, "en"), "13700137000")
    strip = re.compile(r'value="[^"]*"')  # the tokens and the typed number differ, nothing else
    assert strip.sub("", enrolled) == strip.sub("", stranger)
    sms.wait(1)
    time.sleep(0.2)  # the stranger's background task has run by now too: it sent nothing
    assert [phone for phone, _ in sms.sent] == [PHONE]


def test_sign_in_says_so_when_sms_is_not_configured(site: Any) -> None:
    tools, _, _ = site
    app = tools.server.app
    app.state.web = dataclasses.replace(app.state.web, sms=None)
    b = Browser(tools.server, "en")
    assert 'data-testid="sms-not-configured"' in b.page("/me/signin")


def test_no_member_url_names_a_member_and_a_member_reads_nothing_else(site: Any) -> None:
    tools, _, _ = site
    me, other = tools.members
    b = Browser(tools.server, "en")
    b.as_member(me)
    pages = ["/me", "/me/history", "/me/code", "/me/proof", "/me/privacy", "/me/privacy/delete"]
    for path in pages:
        html = b.page(path)
        assert other not in html
        # no parameter reaches another member: the id comes from the session only
        spoofed = b.get(f"{path}?member_id={other}&member={other}", headers={"accept": "text/html"})
        assert spoofed.status_code == 200 and other not in _main(spoofed.text)
        assert _main(spoofed.text) == _main(html)
    data = b.get(f"/me/privacy/export.json?member_id={other}").json()
    assert data["member_id"] == me and data["phone"] == PHONE
    assert other not in json.dumps(data) and OTHER_PHONE not in json.dumps(data)
    for path in ("/operator", "/merchant", "/auditor", f"/v1/members/{other}/account"):
        r = b.get(path, headers={"accept": "text/html"})
        assert r.status_code in (401, 403), (path, r.status_code)
    assert b.get("/v1/me", headers={"accept": "application/json"}).status_code == 401


def test_pending_line_with_its_release_date_then_available(site: Any) -> None:
    tools, _, _ = site
    me = tools.members[0]
    tools.alliance.order("alpha", "a-2", me, 20_000)
    b = Browser(tools.server, "en")
    b.as_member(me)
    html = b.page("/me")
    [line] = re.findall(r'<tr data-testid="pending-line">(.*?)</tr>', html, re.S)
    lot = members.account(tools.server.ctx, me, tools.server.clock.now()).pending_lots[0]
    release_day = (lot.release_at + timedelta(hours=8)).date().isoformat()
    assert release_day in line and "a-2" in line
    before = int(re.search(r'data-testid="balance-available">([\d,]+)<', html)[1].replace(",", ""))  # type: ignore[index]
    tools.alliance.release_all()
    html = b.page("/me")
    assert 'data-testid="pending-line"' not in html
    after = int(re.search(r'data-testid="balance-available">([\d,]+)<', html)[1].replace(",", ""))  # type: ignore[index]
    assert after == before + lot.pending
    history = b.page("/me/history")
    assert "a-2" in history and "alpha" in history and "version 1" in history


def test_the_redemption_code_page_shows_a_code_and_its_qr(site: Any) -> None:
    tools, _, _ = site
    b = Browser(tools.server, "en")
    b.as_member(tools.members[0])
    b.page("/me/code")
    r = b.submit("/me/code")
    assert r.status_code == 200
    code = CODE.search(r.text)[1].replace(" ", "")  # type: ignore[index]
    assert len(code) == 18
    assert 'data-testid="redemption-qr"' in r.text and 'src="data:image/svg+xml' in r.text
    size = int(re.search(r"viewBox%3D%270%200%20(\d+)%20", r.text)[1])  # type: ignore[index]
    assert size // 6 - 4 >= 21  # a full QR code (21+ modules), not a Micro QR many tills miss
    with tools.alliance.merchant("alpha") as m:  # the code is real: the merchant takes it
        taken = m.post(
            "/v1/redemptions",
            json={"code": code, "points": 100, "order_ref": "r-1", "order_amount_fen": 10_000},
        )
    assert taken.status_code == 201, taken.text


def test_export_holds_my_data_and_nobody_elses(site: Any) -> None:
    tools, _, _ = site
    me, other = tools.members
    b = Browser(tools.server, "en")
    b.as_member(me)
    data = b.get("/me/privacy/export.json").json()
    assert data["phone"] == PHONE and data["balance"]["available"] > 0
    assert data["history"] and all(x["order_ref"] != "b-1" for x in data["history"])
    assert {c["purpose"] for c in data["consents"]} == {"terms", "privacy", "marketing"}
    r = b.get("/me/privacy/export.csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert ["profile", data["enrolled_at"], "phone", PHONE, "", "", ""] in rows
    assert any(row[0] == "history" and row[5] == "a-1" for row in rows)
    assert other not in r.text and OTHER_PHONE not in r.text and "b-1" not in r.text


def test_optional_consent_withdrawn_and_granted_required_one_leads_to_erasure(site: Any) -> None:
    tools, _, _ = site
    b = Browser(tools.server, "en")
    b.as_member(tools.members[0])
    b.page("/me/privacy")
    r = b.submit("/me/privacy/consent", {"purpose": "marketing", "granted": "1"})
    assert r.url.path == "/me/privacy"
    assert members.get_member(tools.server.ctx, tools.members[0]).consents["marketing"]
    r = b.submit("/me/privacy/consent", {"purpose": "marketing", "granted": "0"})
    assert not members.get_member(tools.server.ctx, tools.members[0]).consents["marketing"]
    r = b.submit("/me/privacy/consent", {"purpose": "privacy", "granted": "0"})
    assert r.url.path == "/me/privacy/delete"


def test_forms_without_the_csrf_token_are_refused(site: Any) -> None:
    tools, _, _ = site
    b = Browser(tools.server, "en")
    b.as_member(tools.members[0])
    b.page("/me")
    for path, data in (
        ("/me/signin/code", {"phone": PHONE}),
        ("/me/signin", {"phone": PHONE, "code": "123456"}),
        ("/me/code", {}),
        ("/me/privacy/ack", {}),
        ("/me/privacy/consent", {"purpose": "marketing", "granted": "1"}),
        ("/me/privacy/delete", {"confirm": "yes", "forfeit": "yes"}),
    ):
        r = b.post(path, data=data, headers={"accept": "text/html"})
        assert r.status_code == 403, (path, r.status_code)
    members.require_member(tools.server.ctx, tools.members[0])  # still there


def test_erasure_removes_the_person_and_keeps_the_books(db_url: str) -> None:
    with site_alliance(db_url) as tools:
        _with_sms(tools)
        ctx = tools.server.ctx
        me = tools.members[0]
        balance = ctx.ledger.balance(me)
        b = Browser(tools.server, "en")
        b.as_member(me)
        b.page("/me/privacy/delete")
        r = b.submit("/me/privacy/delete", {"confirm": "yes"})  # points left, not given up
        assert r.status_code == 409 and "tick the box to give them up" in r.text
        r = b.submit("/me/privacy/delete", {"confirm": "yes", "forfeit": "yes"})
        assert r.url.path == "/privacy" and 'data-testid="erased-done"' in r.text
        assert b.get("/me", headers={"accept": "text/html"}).url.path == "/me/signin"
        with ctx.engine.connect() as conn:
            row = conn.execute(select(t.members).where(t.members.c.member_id == me)).one()
            left = {
                name: conn.execute(select(tb).where(tb.c.member_id == me)).all()
                for name, tb in (("consents", t.consents), ("acks", t.privacy_acks))
            }
            audit = conn.execute(
                select(t.audit_records).where(t.audit_records.c.action == "member.erased")
            ).one()
        assert row.erased_at is not None and row.phone_sealed == ""
        assert row.phone_lookup != ctx.secrets.lookup(PHONE) and not any(left.values())
        assert audit.subject == me and PHONE not in str(tuple(audit)) and "8000" not in audit.query
        with pytest.raises(MemberNotFound):
            members.find_by_phone(ctx, PHONE)
        assert ctx.ledger.balance(me) == balance  # the books are untouched
        report = verify_books(ctx.engine)
        assert report.ok, report.findings
        imported = import_members(  # an import of the number reports the id it enrols
            ctx, f"phone,terms,privacy\n{PHONE},yes,yes\n".encode(), dry_run=False,
            now=ctx.clock.now(),
        )  # fmt: skip
        [row] = imported.results
        again = tools.alliance.enrol(PHONE)  # the same number: a new, unrelated account
        assert row.outcome == "new" and row.id == again
        assert again != me and members.find_by_phone(ctx, PHONE).member_id == again
        assert tools.alliance.enrol(PHONE) == again
        sms = tools.server.app.state.web.sms
        _sign_in(Browser(tools.server, "en"), sms)  # signs in the new account, never the old
        with ctx.engine.connect() as conn:
            signed = conn.execute(
                select(t.web_sessions.c.member_id, t.web_sessions.c.ended_at)
            ).all()
        assert (again, None) in signed and (me, None) not in signed  # old sessions all ended
        with tools.server.operator() as op:
            r = op.get(f"/v1/members/{me}/account")
        assert r.status_code == 404


def test_erasure_waits_for_pending_points(site: Any) -> None:
    tools, _, _ = site
    me = tools.members[0]
    tools.alliance.order("alpha", "a-9", me, 10_000)
    b = Browser(tools.server, "en")
    b.as_member(me)
    assert 'data-testid="delete-pending"' in b.page("/me/privacy/delete")
    r = b.submit("/me/privacy/delete", {"confirm": "yes", "forfeit": "yes"})
    assert r.status_code == 409 and "still pending" in r.text
    r = b.submit("/me/privacy/delete", {"forfeit": "yes"})
    assert r.status_code == 422
    members.require_member(tools.server.ctx, me)


def test_the_merchant_key_is_not_a_member_session(site: Any) -> None:
    tools, _, _ = site
    b = Browser(tools.server, "en")
    b.sign_in(merchant_key(tools, "alpha"))
    assert b.get("/me", headers={"accept": "text/html"}).status_code == 403
