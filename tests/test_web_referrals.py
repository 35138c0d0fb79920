"""A promoter's rewards and payouts on the member's console, a merchant's referral rewards on its
own (issue 14, "the member and merchant consoles show a promoter's rewards and payouts").

The referral services are built beside these pages, so the fixture writes the referral tables
directly: two promoters (P1 referred P2; each referred a buyer), two merchants (alpha, recruited
by P2; beta), rewards in every state, payees and payout lines. Each figure shown is checked
against the fen row it came from; each page against the other promoter's and the other
merchant's data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from alliance_http import RULES, Alliance, open_alliance_over_http
from api_server import Server, served
from jifen.promoters import graph, views
from jifen.promoters.config import month_of
from jifen.referral import add_months
from jifen.store import tables as t
from jifen.web.render import china_day, yuan
from test_web_i18n import _check, _read
from web_kit import Browser

REFERRAL_RULES = {
    **RULES,
    "referral": {"depth": 1, "direct_bp": 30, "recruiter_bp": 50, "recruiter_months": 12},
}
BOUND = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
MEMBER_PAGES = ("/me/referrals", "/me/payouts", "/me/payouts?year=2025")


@dataclass
class Site:
    server: Server
    alliance: Alliance
    p1: str
    p2: str
    buyers: tuple[str, str]
    rewards: dict[str, dict[str, Any]]  # reward_id → row
    lines: list[dict[str, Any]]

    def member(self, member_id: str, lang: str = "en") -> Browser:
        b = Browser(self.server, lang)
        b.as_member(member_id)
        return b

    def merchant(self, merchant_id: str, lang: str = "en") -> Browser:
        b = Browser(self.server, lang)
        b.sign_in(self.alliance.merchant_keys[merchant_id])
        return b

    def of(self, promoter: str) -> list[dict[str, Any]]:
        return [r for r in self.rewards.values() if r["promoter_id"] == promoter]


def _reward(
    order_ref: str, kind: str, promoter: str, buyer: str, merchant: str, now: datetime, **kw: Any
) -> dict[str, Any]:
    row = {
        "reward_id": f"{order_ref}:{kind}", "promoter_id": promoter, "kind": kind,
        "member_id": buyer, "merchant_id": merchant, "order_ref": order_ref,
        "earn_entry_id": f"e-{order_ref}", "rule_version": 1, "share_bp": 30,
        "order_fen": 0, "basis_fen": 0, "fen": 0, "capped_fen": 0,
        "funded_by": "operator_revenue", "state": "accrued", "paid_at": now - timedelta(days=9),
        "due_at": now - timedelta(days=2), "created_at": now - timedelta(days=9),
        "settled_at": None, "month": None, "entry_id": None, "batch_id": None,
    }  # fmt: skip
    row.update(kw)
    return row


def _line(
    batch: str, member: str, month: str, method: str, gross: int, tax: int, state: str,
    taxable: int = 0, rate_bp: int = 2000,
) -> dict[str, Any]:  # fmt: skip
    return {
        "batch_id": batch, "member_id": member, "out_detail_no": f"{batch}-{member}"[:32],
        "tax_month": month, "method": method, "gross_fen": gross, "taxable_fen": taxable,
        "rate_bp": rate_bp, "quick_deduction_fen": 0, "tax_fen": tax, "net_fen": gross - tax,
        "state": state, "detail_id": None, "entry_id": None,
        "finished_at": datetime(2026, 3, 1, 2, tzinfo=UTC) if state == "succeeded" else None,
    }  # fmt: skip


def _fill(alliance: Alliance, p1: str, p2: str, b1: str, b2: str) -> Site:
    server = alliance.server
    now = server.clock.now()
    month, last_month = month_of(now), month_of(now - timedelta(days=31))
    rewards = [
        _reward("ra-1", "direct", p1, b1, "alpha", now, order_fen=12_345, basis_fen=12_345,
                fen=37, month=month, settled_at=now - timedelta(days=2)),
        _reward("ra-1", "recruiter", p2, b1, "alpha", now, share_bp=50, order_fen=12_345,
                basis_fen=12_345, fen=61, month=last_month, batch_id="rpb-1"),
        _reward("ra-2", "direct", p1, b1, "alpha", now, order_fen=9_999, basis_fen=9_999,
                state="pending", paid_at=now - timedelta(days=1), due_at=now + timedelta(days=6)),
        _reward("rb-1", "direct", p2, b2, "beta", now, order_fen=50_000, basis_fen=40_000,
                fen=120, month=last_month, batch_id="rpb-1"),
        _reward("rb-1", "indirect", p1, b2, "beta", now, share_bp=20, order_fen=50_000,
                basis_fen=40_000, capped_fen=80, state="reversed"),
        _reward("rb-2", "direct", p2, b2, "beta", now, order_fen=20_000, basis_fen=0,
                state="reversed", paid_at=now - timedelta(days=3)),
    ]  # fmt: skip
    lines = [
        _line("rpb-0", p1, "2025-12", "cumulative", 1_000_000, 9_000, "succeeded", 300_000, 300),
        _line("rpb-1", p2, "2026-02", "per_payment", 500_000, 80_000, "succeeded", 400_000),
        _line("rpb-2", p2, "2026-03", "per_payment", 123_456, 19_752, "failed", 98_764),
        _line("rpb-3", p2, "2026-03", "per_payment", 123_456, 19_752, "succeeded", 98_764),
    ]
    payee = {"real_name_sealed": "x", "id_number_sealed": "x", "account_sealed": "x",
             "created_at": now, "updated_at": now, "verification_ref": None}  # fmt: skip
    with server.ctx.engine.begin() as conn:
        conn.execute(insert(t.referral_links), [
            {"member_id": b1, "promoter_id": p1, "source": "scan", "bound_at": BOUND,
             "changed_at": None},
            {"member_id": b2, "promoter_id": p2, "source": "link", "bound_at": BOUND,
             "changed_at": None},
            {"member_id": p2, "promoter_id": p1, "source": "operator", "bound_at": BOUND,
             "changed_at": BOUND + timedelta(days=3)},
        ])  # fmt: skip
        conn.execute(insert(t.merchant_recruiters).values(
            merchant_id="alpha", promoter_id=p2, bound_at=BOUND, changed_at=None))  # fmt: skip
        conn.execute(insert(t.referral_rewards), rewards)
        conn.execute(insert(t.payees), [
            {**payee, "member_id": p1, "account_kind": "wechat_openid", "account_hint": "****wx01",
             "verified_at": BOUND, "consent_version": None, "consented_at": None},
            {**payee, "member_id": p2, "account_kind": "bank_card", "account_hint": "****6789",
             "verified_at": BOUND, "consent_version": "v1", "consented_at": BOUND},
        ])  # fmt: skip
        conn.execute(insert(t.referral_payout_batches), [
            {"batch_id": b, "period": "2026-02", "method": "per_payment", "state": "succeeded",
             "total_gross_fen": 0, "total_tax_fen": 0, "total_net_fen": 0, "attempts": 1,
             "created_at": now, "provider_batch_id": None, "last_error": None,
             "finished_at": None}
            for b in ("rpb-0", "rpb-1", "rpb-2", "rpb-3")
        ])  # fmt: skip
        conn.execute(insert(t.referral_payout_lines), lines)
    return Site(server, alliance, p1, p2, (b1, b2),
                {r["reward_id"]: r for r in rewards}, lines)  # fmt: skip


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    with served(db_url, site=True) as server:
        alliance = open_alliance_over_http(
            server, {"alpha": "cafe", "beta": "cinema"}, REFERRAL_RULES
        )
        p1, p2, b1, b2 = (alliance.enrol(p) for p in
                          ("13800138000", "13900139000", "13700137000", "13600136000"))  # fmt: skip
        for merchant, ref, buyer, fen in (("alpha", "ra-1", b1, 12_345), ("alpha", "ra-2", b1,
                                          9_999), ("beta", "rb-1", b2, 50_000),
                                          ("beta", "rb-2", b2, 20_000)):  # fmt: skip
            alliance.order(merchant, ref, buyer, fen)
        yield _fill(alliance, p1, p2, b1, b2)


def _main(html: str) -> str:
    return html[html.index("<main>") : html.index("</main>")]


def _cells(html: str, testid: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", " ", c).split()[-1]
        for c in re.findall(rf'data-testid="{testid}">(.*?)</t[dr]>', html, re.S)
    ]


def _orders(html: str) -> list[str]:
    return re.findall(r'data-testid="reward-order">([^<]+)<', html)


# -- the member's console -------------------------------------------------------------------------


def test_a_promoter_sees_their_own_rewards_with_figures_to_the_fen(site: Site) -> None:
    for promoter, other in ((site.p1, site.p2), (site.p2, site.p1)):
        html = site.member(promoter).page("/me/referrals")
        mine = sorted(site.of(promoter), key=lambda r: (r["paid_at"], r["reward_id"]), reverse=True)
        assert _orders(html) == [r["order_ref"] for r in mine]
        theirs = {r["order_ref"] for r in site.of(other)} - {r["order_ref"] for r in mine}
        assert theirs and not any(ref in html for ref in theirs)  # rb-2 / ra-2: never shown
        assert _cells(html, "reward-basis") == [yuan(r["basis_fen"]) for r in mine]
        expected = [r["basis_fen"] * r["share_bp"] // 10_000 if r["state"] == "pending"
                    else r["fen"] for r in mine]  # fmt: skip
        assert _cells(html, "reward-fen") == [yuan(f) for f in expected]
    p1 = site.member(site.p1).page("/me/referrals")
    assert 'data-testid="total-pending">0.29<' in p1  # 9,999 fen × 0.30% rounded down: 29 fen
    assert 'data-testid="total-owed">0.37<' in p1 and 'data-testid="total-month">0.37<' in p1
    assert 'data-testid="total-paid">9,910.00<' in p1  # the 2025 payout, net of its tax
    assert 'data-testid="count-referred">2<' in p1  # b1 and p2: shown, never paid on
    assert "the monthly cap on rewards was reached" in p1  # rb-1's indirect share, reversed
    due = china_day(site.rewards["ra-2:direct"]["due_at"])
    assert f"owed from {due}, when the return window ends" in p1
    assert 'data-testid="no-referrer"' in p1
    code = graph.promoter_code(site.server.ctx, site.p1)
    assert f'data-testid="my-code">{code}<' in p1 and f'href="/r/{code}"' in p1
    p2 = site.member(site.p2).page("/me/referrals")
    assert "the order was refunded inside its return window" in p2  # rb-2
    assert 'data-testid="total-owed">0.00<' in p2  # both accrued rewards were paid in rpb-1
    assert 'data-testid="total-paid">5,237.04<' in p2  # 420,000 + 103,704 fen: the failed line not
    assert f'data-testid="referrer">****{site.p1[-4:]}<' in p2 and site.p1 not in p2


def test_payouts_month_by_month_with_the_tax_withheld(site: Site) -> None:
    html = site.member(site.p2).page("/me/payouts")
    assert re.findall(r'<td class="m-day" translate="no">([^<]+)<', html) == ["2026-03", "2026-02"]
    assert _cells(html, "month-gross") == ["1,234.56", "5,000.00"]  # the failed line is not paid
    assert _cells(html, "month-tax") == ["197.52", "800.00"]
    assert _cells(html, "month-net") == ["1,037.04", "4,200.00"]
    assert 'data-testid="year-net">5,237.04<' in html and "per payment" in html
    assert html.count('data-testid="payout-line"') == 3 and "failed, will be paid again" in html
    assert 'data-testid="payee-ready">You can be paid.<' in html and "****6789" in html
    assert "2025-12" not in html and 'data-testid="payout-year"' in html
    p1 = site.member(site.p1)
    now_year = p1.page("/me/payouts")
    assert 'data-testid="no-payouts"' in now_year and "?year=2025" in now_year
    assert 'data-testid="payee-operator"' in now_year  # no /me/payee page: the operator arranges it
    assert "You will be paid once both are done." in now_year  # verified, consent not given
    last_year = p1.page("/me/payouts?year=2025")
    assert _cells(last_year, "month-gross") == ["10,000.00"] and "cumulative method" in last_year
    assert "rpb-1" not in last_year and "rpb-3" not in now_year
    for page_ in ("/me/payouts?year=1999", "/me/payouts?year=nope"):
        assert p1.get(page_, headers={"accept": "text/html"}).status_code == 422


def test_the_payee_form_is_linked_once_it_exists(site: Site) -> None:
    app = site.server.app
    app.add_api_route("/me/payee", lambda: "form", include_in_schema=False)
    html = site.member(site.p1).page("/me/payouts")
    assert 'href="/me/payee"' in html and 'data-testid="payee-operator"' not in html
    ready = site.member(site.p2).page("/me/payouts")
    assert 'href="/me/payee"' not in ready  # a verified, consenting payee has nothing to do


def test_no_member_url_names_a_member_and_other_roles_are_refused(site: Site) -> None:
    ids = (site.p1, site.p2, *site.buyers)
    for promoter in (site.p1, site.p2):
        b = site.member(promoter)
        # the one exception: the promoter's own share link, whose code is their id and a MAC
        own = graph.share_path(graph.promoter_code(site.server.ctx, promoter))
        for path in MEMBER_PAGES:
            links = [x for x in _read(b.page(path)).links if x != own]
            assert links and not [x for x in links if any(i in x for i in ids)], path
    anonymous = Browser(site.server, "en")
    r = anonymous.get("/me/referrals", headers={"accept": "text/html"})
    assert r.url.path == "/me/signin"
    alpha = site.merchant("alpha")
    assert alpha.get("/me/payouts", headers={"accept": "text/html"}).status_code == 403
    member = site.member(site.p1)
    assert member.get("/merchant/referrals", headers={"accept": "text/html"}).status_code == 403


# -- the merchant's console -----------------------------------------------------------------------


def test_a_merchant_sees_the_rewards_its_own_orders_carried(site: Site) -> None:
    for merchant, other in (("alpha", "beta"), ("beta", "alpha")):
        b = site.merchant(merchant)
        html = b.page("/merchant/referrals")
        mine = sorted((r for r in site.rewards.values() if r["merchant_id"] == merchant),
                      key=lambda r: (r["paid_at"], r["reward_id"]), reverse=True)  # fmt: skip
        assert _orders(html) == [r["order_ref"] for r in mine]
        refs = {r["order_ref"] for r in site.rewards.values() if r["merchant_id"] == other}
        assert not any(ref in html for ref in refs)
        assert not any(p in html for p in (site.p1, site.p2, *site.buyers))  # nobody is named
        assert "never from your settlement or the points reserve" in html
        theirs = b.get(f"/merchant/referrals?merchant_id={other}", headers={"accept": "text/html"})
        nobody = b.get("/merchant/referrals?merchant_id=nobody", headers={"accept": "text/html"})
        assert theirs.status_code == nobody.status_code == 403
        assert _main(theirs.text) == _main(nobody.text)
    alpha = site.merchant("alpha").page("/merchant/referrals")
    assert _cells(alpha, "reward-fen") == ["0.29", "0.61", "0.37"]  # ra-2 pending, then ra-1's two
    assert f'data-testid="recruiter-hint">****{site.p2[-4:]}<' in alpha
    until = china_day(add_months(BOUND, 12))
    assert f'data-testid="recruiter-until">{until} ' in alpha and "0.50%" in alpha
    assert 'class="badge ok">sharing<' in alpha
    order = site.merchant("alpha").page("/merchant/orders/ra-1")  # each order links to its page
    assert "ra-1" in order
    assert 'data-testid="no-recruiter"' in site.merchant("beta").page("/merchant/referrals")


def test_both_languages_render_every_referral_page(site: Site) -> None:
    for lang in ("zh-CN", "en"):
        for promoter in (site.p1, site.p2):
            b = site.member(promoter, lang)
            for path in MEMBER_PAGES:
                _check(path, b.page(path), lang)
        for merchant in ("alpha", "beta"):
            _check("/merchant/referrals", site.merchant(merchant, lang).page("/merchant/referrals"),
                   lang)  # fmt: skip
    zh = site.member(site.p2, "zh-CN").page("/me/payouts")
    assert "按次预扣" in zh and "代扣个税" in zh
    assert "推荐奖励由运营方从其收入中支付" in site.merchant("alpha", "zh-CN").page(
        "/merchant/referrals"
    )


# -- the views, paged -----------------------------------------------------------------------------


def test_the_lists_page_through_every_reward_once(site: Site) -> None:
    ctx = site.server.ctx
    for scope, list_, key in (
        ("p1", views.promoter_rewards, site.p1),
        ("alpha", views.merchant_rewards, "alpha"),
        ("beta", views.merchant_rewards, "beta"),
    ):
        seen: list[str] = []
        cursor: str | None = None
        while True:
            found = list_(ctx, key, cursor, 1)
            seen += [f"{r.order_ref}:{r.kind}" for r in found.items]
            if found.next_cursor is None:
                break
            cursor = found.next_cursor
        field = "promoter_id" if scope == "p1" else "merchant_id"
        assert sorted(seen) == sorted(k for k, r in site.rewards.items() if r[field] == key)
    summary = views.promoter_summary(ctx, site.p2, ctx.clock.now())
    assert (summary.paid_gross_fen, summary.paid_tax_fen) == (623_456, 99_752)
    assert summary.recruited_merchants == 1 and summary.referred_members == 1
    assert views.promoter_code(ctx, site.p1) == graph.promoter_code(ctx, site.p1)
