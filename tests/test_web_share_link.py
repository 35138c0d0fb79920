"""A promoter's share link, ``/r/{code}`` (issue 14): opening it never binds, the member's own
POST does, and ``/me/referrals`` says how it went; a visitor reads the referral terms and signs
in back to the link; a code naming no live promoter is the ordinary missing page. And the
member's copy of their data holds their referral data.

The fixture is ``test_web_referrals``'s (P1 referred P2; each referred a buyer; rewards, payees
and payout lines written directly), with one member more who has no referrer yet.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete

from alliance_http import open_alliance_over_http
from api_server import served
from jifen.alliance.privacy import erase
from jifen.promoters import graph, payees, views
from jifen.store import tables as t
from jifen.web.member.account import qr_data_uri
from payouts_kit import id_number
from test_web_i18n import _check
from test_web_member import Recorder
from test_web_referrals import REFERRAL_RULES, Site, _fill
from web_kit import Browser

NEWCOMER_PHONE = "13500135000"
NAME, OPENID = "王小明", "oPayee_Wang_000001"
NUMBER = id_number("11010519900307123")


@dataclasses.dataclass
class Stand:
    site: Site
    newcomer: str

    def code(self, member_id: str) -> str:
        return graph.promoter_code(self.site.server.ctx, member_id)

    def link(self, member_id: str) -> str:
        return graph.share_path(self.code(member_id))

    def referrer(self, member_id: str) -> str | None:
        held = graph.referrer_of(self.site.server.ctx, member_id)
        return None if held is None else held.promoter_id


@pytest.fixture
def stand(db_url: str) -> Iterator[Stand]:
    with served(db_url, site=True) as server:
        alliance = open_alliance_over_http(
            server, {"alpha": "cafe", "beta": "cinema"}, REFERRAL_RULES
        )
        phones = ("13800138000", "13900139000", "13700137000", "13600136000", NEWCOMER_PHONE)
        p1, p2, b1, b2, newcomer = (alliance.enrol(p) for p in phones)
        for merchant, ref, buyer, fen in (("alpha", "ra-1", b1, 12_345), ("alpha", "ra-2", b1,
                                          9_999), ("beta", "rb-1", b2, 50_000),
                                          ("beta", "rb-2", b2, 20_000)):  # fmt: skip
            alliance.order(merchant, ref, buyer, fen)
        yield Stand(_fill(alliance, p1, p2, b1, b2), newcomer)


def _main(text: str) -> str:
    main = text[text.index("<main>") : text.index("</main>")]
    return re.sub(r'name="csrf" value="[^"]*"', "", main)


def _notice(text: str) -> str:
    found = re.search(r'data-testid="link-notice">([^<]*)<', text)
    assert found, "no notice on the page"
    return html.unescape(found[1])


def _post(b: Browser, path: str) -> tuple[str, str]:
    """Post the share form (with a token from a page just read): where it led, and the page."""
    r = b.submit(path)
    assert r.status_code == 200, (r.status_code, r.text[:800])
    return f"{r.url.path}?{r.url.query.decode()}", r.text


def test_opening_the_link_never_binds_and_the_members_own_form_does(stand: Stand) -> None:
    s, me = stand.site, stand.newcomer
    link = stand.link(s.p1)
    b = s.member(me)
    for _ in range(2):  # a link preview, a prefetch, the member reading it: nothing is bound
        page = b.page(link)
        assert 'data-testid="share-bind-form"' in page and f'action="{link}"' in page
        assert f'data-testid="share-promoter">{views.masked(s.p1)}<' in page
    Browser(s.server, "en").page(link)
    assert stand.referrer(me) is None
    where, page = _post(b, link)
    assert where == "/me/referrals?link=bound" and _notice(page) == "Your referrer is bound."
    assert f'data-testid="referrer">{views.masked(s.p1)}<' in page
    held = graph.referrer_of(s.server.ctx, me)
    assert held is not None and (held.promoter_id, held.source) == (s.p1, "link")
    again = b.page(link)
    assert 'data-testid="share-same"' in again and "share-bind-form" not in again
    where, page = _post(b, link)  # the form posted twice (a double tap): nothing changes
    assert where == "/me/referrals?link=replayed" and "nothing changed" in _notice(page)
    assert graph.referrer_of(s.server.ctx, me) == held


def test_a_refusal_is_the_errors_own_message_in_the_readers_language(stand: Stand) -> None:
    s = stand.site
    b2, p2 = s.buyers[1], s.p2  # b2 was referred by p2, p2 by p1
    zh = s.member(b2, "zh-CN")
    page = zh.page(stand.link(s.p1))
    assert 'data-testid="share-bound"' in page
    assert f'data-testid="share-held">{views.masked(p2)}<' in page
    assert "share-bind-form" not in page
    where, page = _post(zh, stand.link(s.p1))
    assert where == "/me/referrals?link=already_bound"
    assert _notice(page) == f"已绑定推荐人 {views.masked(p2)}，只能由运营方更改"
    en = s.member(b2)
    en.page("/me/referrals")
    held = f"A referrer ({views.masked(p2)}) is bound already; only the operator can change it."
    assert _notice(_post(en, stand.link(s.p1))[1]) == held
    p1 = s.member(s.p1)
    assert 'data-testid="share-own"' in p1.page(stand.link(s.p1))  # no form to bind oneself
    where, page = _post(p1, stand.link(s.p1))  # posted all the same
    assert where == "/me/referrals?link=self" and _notice(page) == "A member cannot refer themself."
    where, page = _post(p1, stand.link(p2))  # p2 was referred by p1: the graph stays a forest
    assert where == "/me/referrals?link=cycle" and "go round in a circle" in _notice(page)
    assert stand.referrer(s.p1) is None and stand.referrer(b2) == p2
    assert stand.referrer(p2) == s.p1


def test_a_code_naming_no_live_promoter_is_the_missing_page(stand: Stand) -> None:
    s = stand.site
    member, visitor = s.member(stand.newcomer), Browser(s.server, "en")
    missing = visitor.get("/no-such-page", headers={"accept": "text/html"})
    assert missing.status_code == 404
    forged = f"{s.p1}-00000000"
    for b in (member, visitor):
        for path in (f"/r/{forged}", "/r/nobody", f"/r/{'x' * 200}", f"/r/{stand.code(s.p1)}x"):
            r = b.get(path, headers={"accept": "text/html"})
            assert r.status_code == 404 and _main(r.text) == _main(missing.text), path
    member.page("/me/referrals")
    assert member.submit(f"/r/{forged}").status_code == 404
    ctx = s.server.ctx
    erase(ctx, s.p1, ctx.clock.now(), forfeit=True)  # an erased member promotes nobody
    r = member.get(stand.link(s.p1), headers={"accept": "text/html"})
    assert r.status_code == 404 and _main(r.text) == _main(missing.text)
    assert member.submit(stand.link(s.p1)).status_code == 404
    assert stand.referrer(stand.newcomer) is None


def test_a_visitor_reads_the_terms_and_signs_in_back_to_the_link(stand: Stand) -> None:
    s = stand.site
    link = stand.link(s.p2)
    sms = Recorder()
    s.server.app.state.web = dataclasses.replace(s.server.app.state.web, sms=sms)
    b = Browser(s.server, "en")
    page = b.page(link)
    assert "share-bind-form" not in page
    assert 'data-testid="rule-term-referral_direct"' in page and "0.3%" in page
    assert "rule-term-referral_never" in page  # "never for bringing someone in", as on "/"
    signin = f"/me/signin?next={link}"
    assert f'href="{signin}"' in page
    b.page(signin)
    b.submit("/me/signin/code", {"phone": NEWCOMER_PHONE, "next": link})
    r = b.submit("/me/signin", {"phone": NEWCOMER_PHONE, "code": sms.wait(1), "next": link})
    assert r.url.path == "/privacy"  # a first sign-in: the notice, then on to the link
    carried = re.search(r'name="next" value="([^"]*)"', r.text)
    assert carried and carried[1] == link
    r = b.submit("/me/privacy/ack", {"next": carried[1]})
    assert r.url.path == link and 'data-testid="share-bind-form"' in r.text
    assert stand.referrer(stand.newcomer) is None
    b.token = re.search(r'name="csrf" value="([^"]+)"', r.text)[1]  # type: ignore[index]
    assert _post(b, link)[0] == "/me/referrals?link=bound"
    assert stand.referrer(stand.newcomer) == s.p2
    assert b.get("/me/signin?next=//elsewhere.example").status_code == 200
    assert 'value="//elsewhere.example"' not in b.page("/me/signin?next=//elsewhere.example")


def test_the_share_link_and_its_qr_code_on_the_referrals_page(stand: Stand) -> None:
    s = stand.site
    code = stand.code(s.p1)
    b = s.member(s.p1)
    page = b.page("/me/referrals")
    assert f'href="/r/{code}" data-testid="share-link">/r/{code}<' in page  # no public address
    qr = re.search(r'src="([^"]+)" alt="[^"]*" data-testid="share-qr"', page)
    assert qr and html.unescape(qr[1]) == qr_data_uri(f"{s.server.base_url}/r/{code}")
    app = s.server.app
    app.state.web = dataclasses.replace(app.state.web, public_url="https://jifen.example.com/")
    page = b.page("/me/referrals")
    absolute = f"https://jifen.example.com/r/{code}"
    assert f'href="{absolute}" data-testid="share-link">{absolute}<' in page
    qr = re.search(r'src="([^"]+)" alt="[^"]*" data-testid="share-qr"', page)
    assert qr and html.unescape(qr[1]) == qr_data_uri(absolute)


def test_every_state_of_the_link_page_in_both_languages(stand: Stand) -> None:
    s = stand.site
    for lang in ("zh-CN", "en"):
        for who, promoter, state in (
            (None, s.p1, "share-visitor"),
            (stand.newcomer, s.p1, "share-bind-form"),
            (s.p1, s.p1, "share-own"),
            (s.buyers[0], s.p1, "share-same"),
            (s.buyers[0], s.p2, "share-bound"),
        ):
            b = Browser(s.server, lang) if who is None else s.member(who, lang)
            page = b.page(stand.link(promoter))
            assert f'data-testid="{state}"' in page, (lang, state)
            _check(stand.link(promoter), page, lang)
        b = s.member(stand.newcomer, lang)
        for outcome in ("bound", "replayed", "already_bound", "self", "cycle"):
            _check(outcome, b.page(f"/me/referrals?link={outcome}"), lang)
        assert 'data-testid="link-notice"' not in b.page("/me/referrals?link=nonsense")


def test_the_copy_of_my_data_holds_my_referral_data(stand: Stand) -> None:
    s = stand.site
    ctx, p2 = s.server.ctx, s.p2
    with ctx.engine.begin() as conn:  # a real registration: the fixture's is not sealed
        conn.execute(delete(t.payees).where(t.payees.c.member_id == p2))
    reg = payees.Registration(NAME, NUMBER, payees.WECHAT_OPENID, OPENID,
                              payees.PAYEE_CONSENT_VERSION)  # fmt: skip
    payees.register(ctx, p2, reg, datetime(2026, 2, 1, tzinfo=UTC))
    b = s.member(p2)
    r = b.get("/me/privacy/export.json")
    assert r.status_code == 200
    data = json.loads(r.text)["referrals"]
    assert data["referrer"] == {
        "promoter": views.masked(s.p1),
        "source": "operator",
        "bound_at": "2026-01-15T04:00:00+00:00",
        "changed_at": "2026-01-18T04:00:00+00:00",
    }
    mine = sorted(s.of(p2), key=lambda x: (x["paid_at"], x["reward_id"]), reverse=True)
    assert [x["reward_id"] for x in data["rewards_as_promoter"]] == [x["reward_id"] for x in mine]
    assert [x["fen"] for x in data["rewards_as_promoter"]] == [x["fen"] for x in mine]
    assert data["payee"]["name_mask"] == "王**"
    assert data["payee"]["id_mask"] == NUMBER[0] + "*" * 16 + NUMBER[-1]
    assert data["payee"]["account_hint"] == "****" + OPENID[-4:]
    lines = sorted((x["tax_month"], x["gross_fen"], x["tax_fen"], x["state"])
                   for x in data["payout_lines"])  # fmt: skip
    assert lines == sorted((x["tax_month"], x["gross_fen"], x["tax_fen"], x["state"])
                           for x in s.lines if x["member_id"] == p2)  # fmt: skip
    for secret in (NAME, NUMBER, OPENID, s.p1, *s.buyers):  # nothing in clear, no one else
        assert secret not in r.text
    csv = b.get("/me/privacy/export.csv").text
    assert f"referrer,2026-01-15T04:00:00+00:00,operator,{views.masked(s.p1)}" in csv
    assert (
        csv.count("referral_reward,") == len(mine) and "recruiter accrued fen,61,alpha,ra-1" in csv
    )
    assert csv.count("referral_payout,") == 3 * 3 and "2026-02 succeeded tax_fen,80000" in csv
    assert "payee," in csv and NAME not in csv and NUMBER not in csv
    alone = s.member(stand.newcomer).get("/me/privacy/export.json").json()["referrals"]
    assert alone == {"referrer": None, "rewards_as_promoter": [], "payee": None,
                     "payout_lines": []}  # fmt: skip
