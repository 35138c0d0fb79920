"""The operator's reports (issue 13, Build §4): each page shows the figures the services return,
its charts draw the figures of the table beside them, money is fen shown as yuan to the fen,
and nobody but the operator opens any of it.

One small alliance lives through a few weeks: orders, a redemption, a large cash order (a
large-value alert), its days closed, then everything expires and a fresh order is pending.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from api_server import Server
from jifen import i18n
from jifen.app.clock import business_date
from jifen.funds.alerts import LINES_FEN
from jifen.ledger import queries
from jifen.payments.reconcile import ReconciliationStatus
from jifen.settlement import liabilities, reserve_status, statements
from jifen.store import tables as t
from jifen.web import charts
from jifen.web.operator import reports
from jifen.web.operator._reports_history import history
from jifen.webhooks.log import DELIVERY_STATUSES
from jifen.webhooks.subscriptions import STATUSES
from tools_kit import Tools
from web_kit import Browser, auditor_key, merchant_key, operator, site_alliance

PAGES = (
    "/operator/reports",
    "/operator/reports/dashboards",
    "/operator/reports/settlement",
    "/operator/reports/reconciliation",
    "/operator/reports/alerts",
    "/operator/reports/webhooks",
)
BIG_ORDER_FEN = 12_345_678  # ¥123,456.78 in cash: over the ¥50,000 cash line
ROW = re.compile(r'<tr data-testid="(\w+)-row" data-day="([\d-]+)">(.*?)</tr>', re.S)
CELL = re.compile(r'data-testid="([\w-]+)">([^<]*)<')


@dataclass
class Scene:
    tools: Tools
    first: date
    subscription: str

    @property
    def server(self) -> Server:
        return self.tools.server


def _close(tools: Tools, days: int) -> None:
    tools.alliance.release_all(days)


def _live(tools: Tools) -> Scene:
    server, a, (m0, m1) = tools.server, tools.alliance, tools.members
    first = business_date(server.clock.now() - timedelta(days=8))  # the alliance's first day
    with server.operator() as op:
        r = op.post(
            "/v1/webhooks/subscriptions",
            json={"url": "http://127.0.0.1:9/hook", "events": ["statement.closed"]},
        )
    assert r.status_code == 201, r.text
    tools.redeem("beta", m0, 200, "r-1")
    a.order("alpha", "a-2", m1, BIG_ORDER_FEN)
    _close(tools, 8)
    _close(tools, 70)  # past the two months' expiry: every lot so far expires
    a.order("beta", "b-2", m0, 10_000)  # 100 points, pending
    return Scene(tools, first, str(r.json()["subscription_id"]))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    db = tmp_path_factory.mktemp("reports") / "web.db"
    with site_alliance(f"sqlite:///{db}") as tools:
        yield _live(tools)


def _rows(html: str, kind: str) -> dict[str, dict[str, str]]:
    """The table rows of one kind (``flows``, ``reserve``…), by day, their cells by testid."""
    return {day: dict(CELL.findall(cells)) for k, day, cells in ROW.findall(html) if k == kind}


def _number(text: str) -> int:
    """A table's number back to an integer: points as they are, yuan back to fen."""
    digits = text.replace(",", "").replace("%", "")
    whole, _, cents = digits.partition(".")
    return int(whole) * 100 + int(cents) if cents else int(whole)


def _range(s: Scene) -> str:
    today = business_date(s.server.clock.now())
    return f"?first={s.first.isoformat()}&last={today.isoformat()}"


def test_the_dashboards_show_the_liabilities_report_and_each_day_from_the_journal(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: dict[str, list[charts.Series]] = {}
    real = charts.line_chart

    def spy(title: str, days: Any, series: Any, **kw: Any) -> str:
        drawn[title] = list(series)
        return real(title, days, series, **kw)

    monkeypatch.setattr(charts, "line_chart", spy)
    ctx = scene.server.ctx
    html = operator(scene.server, "en").page("/operator/reports/dashboards" + _range(scene))
    report = liabilities(ctx)
    assert report.outstanding_points == 100 and report.reserve.reserve_fen == 100
    now = dict(re.findall(r'data-testid="(now-[\w-]+)">([^<]*)<', html))
    assert now["now-outstanding"] == "100" and now["now-reserve"] == "1.00"
    assert now["now-value"] == "1.00" and now["now-coverage"] == "100.00%"
    with ctx.engine.connect() as conn:
        expired, redeemed = queries.points_gone(conn)
    assert (expired, redeemed) == (500 - 200 + 300 + BIG_ORDER_FEN // 100, 200)
    assert report.breakage_rate_bp == expired * 10_000 // (expired + redeemed)
    rate = f"{report.breakage_rate_bp // 100}.{report.breakage_rate_bp % 100:02d}%"
    assert now["now-breakage-rate"] == rate

    flows, reserve = _rows(html, "flows"), _rows(html, "reserve")
    outstanding, breakage = _rows(html, "outstanding"), _rows(html, "breakage")
    today = business_date(scene.server.clock.now()).isoformat()
    # the days end where the services say now is
    assert _number(outstanding[today]["outstanding"]) == report.outstanding_points
    assert _number(reserve[today]["reserve"]) == reserve_status(ctx).reserve_fen
    assert _number(reserve[today]["required"]) == reserve_status(ctx).liability_fen
    assert breakage[today]["breakage-rate"] == rate
    # issued, day by day, is what the statements say each merchant issued
    issued_by_day: dict[str, int] = {}
    for s in statements(ctx, None, cursor=None, limit=100).items:
        day = s.business_date.isoformat()
        issued_by_day[day] = issued_by_day.get(day, 0) + s.points_issued
    for day, issued in issued_by_day.items():
        assert _number(flows[day]["issued"]) == issued, day
    assert sum(_number(r["expired"]) for r in flows.values()) == expired
    assert sum(_number(r["redeemed"]) for r in flows.values()) == redeemed
    # each chart draws exactly the figures of its table, oldest day first
    days = sorted(flows)
    series = {s.label: list(s.values) for chart in drawn.values() for s in chart}
    assert series["Issued"] == [_number(flows[d]["issued"]) for d in days]
    assert series["Redeemed"] == [_number(flows[d]["redeemed"]) for d in days]
    assert series["Expired"] == [_number(flows[d]["expired"]) for d in days]
    assert series["Outstanding points"] == [_number(outstanding[d]["outstanding"]) for d in days]
    assert series["Reserve"] == [_number(reserve[d]["reserve"]) for d in days]
    assert series["Required coverage"] == [_number(reserve[d]["required"]) for d in days]
    assert series["Breakage rate (to date)"] == [
        _number(breakage[d]["breakage-rate"]) for d in days
    ]
    assert html.count('<img class="chart" src="data:image/svg+xml;base64,') == 4


def test_the_history_ends_at_the_reserve_and_liability_of_now(scene: Scene) -> None:
    ctx = scene.server.ctx
    today = business_date(ctx.clock.now())
    days = history(ctx, scene.first - timedelta(days=2), today)
    assert days[0].outstanding == days[0].reserve_fen == days[0].issued == 0  # before anything
    status = reserve_status(ctx)
    last = days[-1]
    assert (last.reserve_fen, last.outstanding, last.liability_fen) == (
        status.reserve_fen,
        status.outstanding_points,
        status.liability_fen,
    )
    assert all(d.covered for d in days)
    peak = max(d.outstanding for d in days)
    assert peak == 500 + 300 - 200 + BIG_ORDER_FEN // 100


def test_settlement_shows_each_days_statements_in_yuan_with_exports(scene: Scene) -> None:
    b = operator(scene.server)
    html = b.page("/operator/reports/settlement" + _range(scene))
    ctx = scene.server.ctx
    big = next(
        s
        for s in statements(ctx, "alpha", cursor=None, limit=100).items
        if s.points_issued == BIG_ORDER_FEN // 100
    )
    # 123,456 points at ¥12 per 1000: ⌈148,147.2⌉ = 148,148 fen
    assert big.charges_fen == 148_148
    section = html.split(f'data-day="{big.business_date.isoformat()}"')[1].split("</section>")[0]
    row = section.split('data-merchant="alpha"')[1].split("</tr>")[0]
    cells = dict(CELL.findall(row))
    assert cells["points-issued"] == "123,456" and cells["charges"] == "1,481.48"
    assert big.net_fen == -148_148 and cells["net"] == "-1,481.48"
    # the reserve took the big order's value (123,456 fen) and paid the 200 points redeemed
    assert 'data-testid="reserve-moved">1,232.56<' in section
    link = re.search(r'href="(/operator/reports/exports/[^"]+/statements\.csv)"', html)
    assert link
    r = b.get(link.group(1))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "alpha" in r.text and str(big.charges_fen) in r.text
    orders = re.search(r'href="(/operator/reports/exports/[^"]+/orders\.csv)"', html)
    assert orders and "a-2" in b.get(orders.group(1)).text


def test_reconciliation_says_no_provider_is_configured(scene: Scene) -> None:
    html = operator(scene.server, "en").page("/operator/reports/reconciliation")
    assert 'data-testid="reconciliation-no-provider"' in html
    assert "No payment provider is configured" in html


def test_reconciliation_shows_each_days_latest_run_and_its_breaks(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a provider configured, each day shows its newest run (as ``jifen reconcile`` keeps
    them) and lists every item that did not match, amounts in yuan."""
    monkeypatch.setattr(scene.server.app.state, "funds", object(), raising=False)
    day = business_date(scene.server.clock.now()) - timedelta(days=1)
    items = [
        {"kind": "payment", "key": "P1", "provider_ref": "4200", "status": "matched",
         "ours_fen": 500, "bill_fen": 500, "diff_fen": 0, "note": ""},
        {"kind": "payment", "key": "P2", "provider_ref": "4201", "status": "amount_differs",
         "ours_fen": 123_456, "bill_fen": 123_356, "diff_fen": -100, "note": "bill lower"},
    ]  # fmt: skip
    with scene.server.ctx.writer.begin() as conn:
        for run, found in ((1, items[:1]), (2, items)):
            summary = {"bill_date": day.isoformat(), "counts": {"matched": 1}, "totals": [],
                       "items": found}  # fmt: skip
            conn.execute(
                t.reconciliations.insert().values(
                    bill_date=day.isoformat(),
                    run=run,
                    run_at=scene.server.clock.now(),
                    summary=json.dumps(summary),
                    report_csv="",
                )
            )
    html = operator(scene.server, "en").page("/operator/reports/reconciliation")
    assert "reconciliation-no-provider" not in html
    row = html.split(f'data-testid="reconciliation-row" data-day="{day.isoformat()}"')[1]
    row = row.split("</tr>")[0]
    assert "run 2," in row and 'data-testid="breaks">1<' in row
    breaks = html.split('data-testid="reconciliation-breaks"')[1]
    assert "P2" in breaks and "amounts differ" in breaks and "P1" not in breaks
    assert "1,234.56" in breaks and "1,233.56" in breaks and "-1.00" in breaks
    assert html.count('data-testid="not-reconciled"') == 29  # the other days of the 30


def test_the_large_cash_order_is_an_alert_in_yuan(scene: Scene) -> None:
    html = operator(scene.server).page("/operator/reports/alerts")
    row = html.split('data-testid="alert-row"')[1].split("</tr>")[0]
    cells = dict(CELL.findall(row))
    assert cells["alert-subject"] == f"member:{scene.tools.members[1]}"
    assert cells["alert-total"] == "123,456.78" and cells["alert-threshold"] == "50,000.00"


def _fail_one(s: Scene) -> str:
    d = t.webhook_deliveries
    with s.server.ctx.writer.begin() as conn:
        event_id = conn.execute(
            select(d.c.event_id).where(d.c.subscription_id == s.subscription).limit(1)
        ).scalar_one()
        conn.execute(
            update(d)
            .where(d.c.subscription_id == s.subscription, d.c.event_id == event_id)
            .values(status="failed", attempts=12, last_error="connection refused")
        )
    return str(event_id)


def test_a_failed_delivery_is_replayed_only_with_the_forms_token(scene: Scene) -> None:
    event_id = _fail_one(scene)
    b = operator(scene.server)
    html = b.page("/operator/reports/webhooks?status=failed")
    assert f'data-event="{event_id}"' in html and "connection refused" in html
    action = f"/operator/reports/webhooks/{scene.subscription}/deliveries/{event_id}/replay"
    assert f'action="{action}"' in html
    refused = b.post(action, data={}, headers={"accept": "text/html"})
    assert refused.status_code == 403 and "web.csrf_refused" in refused.text
    forged = b.post(action, data={"csrf": "forged"}, headers={"accept": "text/html"})
    assert forged.status_code == 403
    d = t.webhook_deliveries
    with scene.server.ctx.engine.connect() as conn:
        status = conn.execute(select(d.c.status).where(d.c.event_id == event_id)).scalar_one()
    assert status == "failed"
    done = b.submit(action)
    assert done.status_code == 200 and "/operator/reports/webhooks" in str(done.url)
    assert 'data-testid="webhook-replayed"' in done.text
    row = done.text.split(f'data-event="{event_id}"')[1].split("</article>")[0]
    assert 'data-testid="delivery-attempts">0<' in row and "replay-form" not in row
    missing = action.replace(event_id, "evt_" + "0" * 32)
    gone = b.submit(missing)
    assert gone.status_code == 404 and 'class="error" role="alert"' in gone.text


@pytest.mark.parametrize("path", PAGES)
def test_nobody_but_the_operator_opens_a_report(scene: Scene, path: str) -> None:
    server = scene.server
    nobody = Browser(server)
    r = nobody.get(path, headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")
    merchant = Browser(server)
    merchant.sign_in(merchant_key(scene.tools, "alpha"))
    merchant.page(path, status=403)
    auditor = Browser(server)
    auditor.sign_in(auditor_key(server))
    auditor.page(path, status=403)
    member = Browser(server)
    member.as_member(scene.tools.members[0])
    member.page(path, status=403)


def test_others_cannot_replay_or_export(scene: Scene) -> None:
    server = scene.server
    merchant = Browser(server)
    merchant.sign_in(merchant_key(scene.tools, "alpha"))
    action = f"/operator/reports/webhooks/{scene.subscription}/deliveries/evt_{'0' * 32}/replay"
    assert merchant.submit(action).status_code == 403
    assert merchant.get("/operator/reports/exports/2026-01-01/2026-12-31/statements.csv",
                        headers={"accept": "text/html"}).status_code == 403  # fmt: skip


def test_a_report_reads_on_sqlite_and_postgresql(db_url: str) -> None:
    """The history and the pages on both stores (the small alliance, as set up)."""
    with site_alliance(db_url) as tools:
        html = operator(tools.server).page("/operator/reports/dashboards")
        ctx = tools.server.ctx
        today = business_date(ctx.clock.now()).isoformat()
        assert _number(_rows(html, "outstanding")[today]["outstanding"]) == 800
        assert _number(_rows(html, "reserve")[today]["reserve"]) == reserve_status(ctx).reserve_fen
        for path in PAGES[2:]:
            operator(tools.server).page(path)


def test_basis_points_read_as_a_percentage_without_floats() -> None:
    assert reports.percent(9_983) == "99.83%" and reports.percent(10_000) == "100.00%"
    assert reports.percent(7) == "0.07%" and reports.percent(None) == "—"


def test_every_word_a_report_picks_by_name_is_in_both_catalogues() -> None:
    """Labels chosen from data (a status, a line, a break's result) exist in both languages,
    though a small alliance shows only some of them."""
    names = [f"status.{s}" for s in DELIVERY_STATUSES]
    names += [f"subscription.{s}" for s in STATUSES]
    names += [f"alert.line.{line}" for line in LINES_FEN]
    names += [f"break.{s}" for s in ReconciliationStatus]
    names += [
        f"{report}.{part}"
        for report in ("dashboards", "settlement", "reconciliation", "alerts", "webhooks")
        for part in ("title", "about")
    ]
    for lang in i18n.LANGUAGES:
        for name in names:
            assert i18n.text(f"web.reports.{name}", lang), (lang, name)
