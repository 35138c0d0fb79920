"""The public pages (issue 13 §1): the rules in force in plain words, the changes announced with
their dates, reasons and diffs, every version in the history, the alliance's active merchants,
and the liabilities and reserve with a chart over the closed days, each figure the API's."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from pathlib import Path

from alliance_http import RULES
from api_server import Server
from jifen.rules import RuleDocument
from jifen.settlement.history import reserve_history
from jifen.web.public import plain
from jifen.web.render import china_time
from web_kit import Browser, auditor_key, site_alliance


def _testid(page: str, testid: str) -> list[str]:
    """The text inside every element with ``data-testid=testid`` (tags stripped)."""
    found = re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", f)).strip() for f in found]


def _announce(server: Server, rules: dict[str, object], effective_at: datetime, reason: str) -> int:
    with server.operator() as op:
        r = op.post("/v1/rules/drafts", json=rules)
        assert r.status_code == 201, r.text
        number = int(r.json()["number"])
        r = op.post(
            f"/v1/rules/versions/{number}/publish",
            json={"effective_at": effective_at.isoformat(), "reason": reason},
        )
        assert r.status_code == 200, r.text
    return number


def test_the_home_page_says_the_rules_in_force_in_plain_words(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        zh = Browser(tools.server, "zh-CN").page("/")
        en = Browser(tools.server, "en").page("/")
    # alliance_http.RULES: 1 point per yuan, 7 days pending, rolling 2 months, 50% of an order
    assert RULES["earn"] == {"points_per_yuan": 1}
    assert _testid(zh, "rule-term-earn") == ["每消费 1 元，得 1 积分。"]
    assert _testid(en, "rule-term-earn") == ["Points earned for every ¥1 you pay: 1."]
    assert _testid(zh, "rule-term-expiry")[0].startswith("积分自发放之日起 2 个月后过期")
    assert _testid(en, "rule-term-expiry")[0].startswith(
        "Points expire 2 months after they are released"
    )
    assert _testid(en, "rule-term-pending")[0].startswith("Points are released 7 days after")
    assert _testid(en, "rule-term-share") == ["Points can pay up to 50% of an order."]
    assert _testid(en, "rule-term-value")[0].startswith("When you spend points, 100 points are")
    assert "¥1.00" in _testid(en, "rule-term-value")[0]
    assert _testid(en, "rule-version")[0].startswith("Rule version 1, in force since")
    # every trade of the alliance with its rate: none named by the rule, so the base rate
    assert _testid(en, "category-rates-row") == ["cafe", "cinema"]
    assert _testid(en, "no-upcoming")


def test_plain_words_follow_every_kind_of_term() -> None:
    doc = RuleDocument.model_validate(
        {
            "earn": {
                "points_per_yuan": 2,
                "min_spend_fen": 1_000,
                "max_points_per_order": 5_000,
                "max_points_per_member_per_day": 20_000,
                "category_multipliers_bp": {"cinema": 15_000},
                "merchant_multipliers_bp": {"alpha": 5_000},
                "campaigns": [
                    {
                        "name": "国庆",
                        "starts_at": "2026-10-01T00:00:00+08:00",
                        "ends_at": "2026-10-08T00:00:00+08:00",
                        "multiplier_bp": 20_000,
                        "categories": ["cafe"],
                    }
                ],
            },
            "pending": {"return_window_days": 0},
            "expiry": {"policy": "fixed_month_end", "months": 36, "month_of_year": 9},
            "point_value": {"fen_per_point": 2},
            "issue_price": {"fen_per_1000_points": 2_500},
            "redemption": {"min_points": 500, "excluded_categories": ["tobacco"]},
            "refund": {"shortfall": "record_debt"},
        }
    )
    terms = {t.name: t for t in plain.terms(doc)}
    assert terms["earn"].fields == {"points": "2"}
    assert terms["min_spend"].fields == {"yuan": "10.00"}
    assert terms["per_order"].fields == {"points": "5,000"}
    assert terms["per_day"].fields == {"points": "20,000"}
    assert terms["pending"].msgid == "web.public.rule.pending_none"
    assert terms["expiry"].msgid == "web.public.rule.expiry_fixed"
    assert terms["expiry"].fields == {"months": "36", "month": "9"}
    assert terms["value"].fields == {"points": "100", "yuan": "2.00"}
    assert terms["share"].msgid == "web.public.rule.share_all"
    assert terms["excluded"].data == ("tobacco",)
    assert terms["refund"].msgid == "web.public.rule.refund_record_debt"
    assert terms["issue_price"].fields == {"yuan": "25.00", "value": "20.00"}
    cats = plain.category_rates(doc, ["cafe", "cinema"])
    assert [(r.key, r.multiplier, r.points_per_yuan) for r in cats] == [
        ("cafe", "1", "2"),
        ("cinema", "1.5", "3"),
    ]
    assert [(r.key, r.points_per_yuan) for r in plain.merchant_rates(doc)] == [("alpha", "1")]
    (campaign,) = plain.campaigns(doc)
    assert (campaign.name, campaign.multiplier, campaign.where) == ("国庆", "2", ("cafe",))
    never = doc.with_changes(**{"expiry.policy": "none", "expiry.month_of_year": None})
    assert "web.public.rule.expiry_none" in {t.msgid for t in plain.terms(never)}
    assert (plain.ratio(12_345), plain.ratio(10_000), plain.percent(2_550)) == (
        "1.2345",
        "1",
        "25.5",
    )


def test_an_announced_change_is_listed_with_its_date_reason_and_diff(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        server = tools.server
        now = server.clock.now()
        doubled = {**RULES, "earn": {"points_per_yuan": 2}}
        takes_effect = now + timedelta(days=31)
        v2 = _announce(server, doubled, takes_effect, "双倍积分 double points for the summer")
        dropped = {**doubled, "pending": {"return_window_days": 10}}
        v3 = _announce(server, dropped, now + timedelta(days=40), "退货期延长 longer returns")
        with server.operator() as op:
            r = op.post(f"/v1/rules/versions/{v3}/withdraw", json={"reason": "改期 postponed"})
            assert r.status_code == 200, r.text
        b = Browser(server, "en")
        home = b.page("/")
        assert re.findall(r'data-testid="upcoming-change" data-version="(\d+)"', home) == [str(v2)]
        assert _testid(home, "upcoming-effective") == [
            f"Takes effect on {china_time(takes_effect)} (China time)"
        ]
        assert _testid(home, "upcoming-reason") == ["双倍积分 double points for the summer"]
        assert "earn.points_per_yuan: 1 → 2" in _testid(home, "upcoming-diff")[0]
        assert _testid(home, "rule-term-earn")[:2] == [
            "Points earned for every ¥1 you pay: 1.",  # in force
            "Points earned for every ¥1 you pay: 2.",  # once the change takes effect
        ]

        history = b.page("/rules/history")
        shown = re.findall(r'data-testid="history-version" data-version="(\d+)"', history)
        assert shown == [str(v3), str(v2), "1"]  # every version, newest first
        statuses = re.findall(r'data-testid="version-status" data-status="(\w+)"', history)
        assert statuses == ["withdrawn", "published", "effective"]
        assert _testid(history, "history-reason") == [
            "退货期延长 longer returns",
            "双倍积分 double points for the summer",
            "开业 launch",
        ]
        assert _testid(history, "history-withdraw-reason") == ["改期 postponed"]
        with server.client() as anyone:  # the same versions and statuses as the public API
            api = anyone.get("/v1/public/rules/history").json()
        assert [(str(v["number"]), v["status"]) for v in reversed(api)] == list(
            zip(shown, statuses, strict=True)
        )

        server.set_clock(takes_effect + timedelta(minutes=1))
        home = b.page("/")
        assert _testid(home, "rule-term-earn") == ["Points earned for every ¥1 you pay: 2."]
        assert _testid(home, "no-upcoming")
        statuses = re.findall(r'data-status="(\w+)"', b.page("/rules/history"))
        assert statuses == ["withdrawn", "effective", "superseded"]


def _figure(page: str, testid: str) -> str:
    (value,) = _testid(page, testid)
    return value


def test_the_liabilities_page_shows_the_api_figures_and_a_chart_with_its_table(
    db_url: str,
) -> None:
    with site_alliance(db_url) as tools:
        server = tools.server
        tools.redeem("beta", tools.members[0], 120, "t-1")  # a redemption: reserve moves
        with server.operator() as op:
            report = op.get("/v1/reports/liabilities").json()
        with server.client(auditor_key(server)) as auditor:
            assert auditor.get("/v1/audit/liabilities").json() == report
        page = Browser(server, "en").page("/liabilities")
        days = reserve_history(server.ctx)
    assert report["outstanding_points"] == 800 - 120
    assert _figure(page, "outstanding-points") == f"{report['outstanding_points']:,}"
    assert (
        _figure(page, "liability-value")
        == f"¥{report['value_fen'] // 100}.{report['value_fen'] % 100:02d}"
    )
    reserve = report["reserve_fen"]
    assert _figure(page, "reserve-balance") == f"¥{reserve // 100}.{reserve % 100:02d}"
    assert _figure(page, "reserve-coverage") == report["coverage"] == "100.00%"
    assert 'data-covered="yes"' in page
    chart = re.search(
        r'<img class="chart" src="([^"]+)" alt="([^"]+)" data-testid="liability-chart"', page
    )
    assert chart and chart.group(1).startswith("data:image/svg+xml;base64,")
    # the table beside the chart: each closed day, newest first, as its close recorded it
    assert len(days) == 8  # 2 to 9 March, closed by release_all
    rows = re.findall(r'data-testid="history-row" data-day="([\d-]+)">(.*?)</tr>', page, re.S)
    assert [day for day, _ in rows] == [d.business_date.isoformat() for d in reversed(days)]
    last_day = re.findall(r"<td[^>]*>([^<]*)</td>", rows[0][1])
    assert last_day[1:] == ["¥8.00", "¥8.00", "100.00%"]  # 800 points at 1 fen, before the spend
    months = _testid(page, "expiry-month-row")
    assert len(months) == len(report["by_expiry_month"])


def test_the_alliance_page_lists_the_active_merchants(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        b = Browser(tools.server, "en")
        page = b.page("/alliance")
        assert re.findall(r'data-testid="merchant-row" data-merchant="(\w+)"', page) == [
            "alpha",
            "beta",
        ]
        assert '<td translate="no">Alpha 咖啡</td>' in page
        assert "国贸店 (北京)" in page
        assert "91310000MA1FL0TEST" not in page  # KYC stays with the operator
        with tools.server.operator() as op:
            r = op.post("/v1/merchants/beta/status", json={"status": "suspended"})
            assert r.status_code == 200, r.text
        page = b.page("/alliance")
        assert re.findall(r'data-testid="merchant-row" data-merchant="(\w+)"', page) == ["alpha"]


def test_the_public_pages_need_no_sign_in_and_link_each_other(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        b = Browser(tools.server, "zh-CN")
        home = b.page("/")
        for path in ("/", "/rules/history", "/alliance", "/liabilities"):
            assert f'href="{path}"' in home
            page = b.page(path)
            assert f'href="{path}" data-testid="public-nav-' in page
            assert re.search(rf'href="{re.escape(path)}"[^>]*aria-current="page"', page)
