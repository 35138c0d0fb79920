"""The operator's reports (issue 13, Build §4): liabilities, the reserve, issuance, redemption
and breakage over time; settlement and reconciliation results; large-value alerts; the webhook
delivery log.

Each page asks the services the API's operator routes ask (``jifen.settlement``,
``jifen.funds``, ``jifen.webhooks``), with the same arguments, so a page shows what the API
answers. The one figure no service keeps per day, the history of the points and the reserve, is
re-derived from the journal (``_reports_history``). Every chart sits beside a table of the same
figures (``jifen.web.charts``).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse

from jifen import funds, i18n, webhooks
from jifen.api.auth import Caller
from jifen.app.clock import business_date
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.funds.reconciliation import StoredReport, latest_report
from jifen.settlement import Statement, coverage_text, liabilities, statements
from jifen.settlement import exports as settlement_exports
from jifen.web import charts, csrf
from jifen.web.access import OperatorPage
from jifen.web.operator._reports_history import DayFigures, history
from jifen.web.render import describe, language, page
from jifen.webhooks.log import DELIVERY_STATUSES

router = APIRouter(include_in_schema=False)
HOME = "/operator/reports"
DEFAULT_DAYS = 30
MAX_DAYS = 366
"""The longest range a page reads (a longer one is cut to the last ``MAX_DAYS`` days)."""
PAGE_SIZE = 100  # the services' largest page
DeliveryStatus = Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")]
SubscriptionId = Annotated[str, Path(pattern=r"^whs_[0-9a-f]{24}$")]
EventId = Annotated[str, Path(pattern=r"^evt_[0-9a-f]{32}$")]


def _ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _range(ctx: Context, first: date | None, last: date | None) -> tuple[date, date]:
    """The days asked for: by default the last 30 business days up to today (Shanghai); a range
    given backwards is turned round, one too long is cut to its last ``MAX_DAYS`` days."""
    last = last or business_date(ctx.clock.now())
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    return max(first, last - timedelta(days=MAX_DAYS - 1)), last


def _text(request: Request) -> Callable[..., str]:
    lang = language(request)
    return lambda msgid, **fields: i18n.text(msgid, lang, **fields)


def percent(bp: int | None) -> str:
    """Basis points as a percentage with two decimals (7142 → "71.42%"), by integer arithmetic,
    as the liabilities report writes its coverage; "—" for none."""
    return "—" if bp is None else f"{bp // 100}.{bp % 100:02d}%"


@router.get(HOME, response_class=HTMLResponse)
def index(request: Request, who: OperatorPage) -> HTMLResponse:
    return page(request, "operator/reports.html", who=who)


def dashboard_charts(t: Callable[..., str], days: list[DayFigures]) -> dict[str, str]:
    """The four charts of the dashboards, each of figures its table beside it shows."""
    x = [d.day for d in days]

    def chart(name: str, unit: str, *series: tuple[str, list[int]]) -> str:
        lines = [charts.Series(t(f"web.reports.{label}"), values) for label, values in series]
        return charts.line_chart(t(f"web.reports.chart.{name}"), x, lines, unit=t(unit))

    return {
        "flows": chart(
            "flows",
            "web.reports.unit.points",
            ("issued", [d.issued for d in days]),
            ("redeemed", [d.redeemed for d in days]),
            ("expired", [d.expired for d in days]),
        ),
        "outstanding": chart(
            "outstanding", "web.reports.unit.points", ("outstanding", [d.outstanding for d in days])
        ),
        "reserve": chart(
            "reserve",
            "web.reports.unit.fen",
            ("reserve", [d.reserve_fen for d in days]),
            ("required", [d.liability_fen for d in days]),
        ),
        "breakage": chart(
            "breakage", "web.reports.unit.bp", ("breakage_rate", [d.breakage_bp for d in days])
        ),
    }


@router.get(f"{HOME}/dashboards", response_class=HTMLResponse)
def dashboards(
    request: Request, who: OperatorPage, first: date | None = None, last: date | None = None
) -> HTMLResponse:
    """Liabilities, the reserve, issuance, redemption and breakage, now and per day."""
    ctx = _ctx(request)
    first, last = _range(ctx, first, last)
    days = history(ctx, first, last)
    report = liabilities(ctx)  # what GET /v1/reports/liabilities answers
    return page(
        request,
        "operator/reports_dashboards.html",
        who=who,
        first=first,
        last=last,
        days=days,
        report=report,
        coverage=coverage_text(report.reserve),
        percent=percent,
        charts=dashboard_charts(_text(request), days),
    )


def statements_in(ctx: Context, first: date, last: date) -> list[Statement]:
    """Every merchant's statements of ``[first, last]``, newest day first, read page by page
    from ``jifen.settlement.statements`` (the API's GET /v1/statements for the operator)."""
    found: list[Statement] = []
    cursor: str | None = None
    while True:
        batch = statements(ctx, None, cursor=cursor, limit=PAGE_SIZE)
        found += [s for s in batch.items if first <= s.business_date <= last]
        if batch.next_cursor is None or (batch.items and batch.items[-1].business_date < first):
            return found
        cursor = batch.next_cursor


@router.get(f"{HOME}/settlement", response_class=HTMLResponse)
def settlement(
    request: Request, who: OperatorPage, first: date | None = None, last: date | None = None
) -> HTMLResponse:
    """Each business day's statements, their nets, and what the reserve did that day."""
    ctx = _ctx(request)
    first, last = _range(ctx, first, last)
    by_day: dict[date, list[Statement]] = defaultdict(list)
    for s in statements_in(ctx, first, last):
        by_day[s.business_date].append(s)
    days = history(ctx, first - timedelta(days=1), last)
    reserve_moved = {b.day: b.reserve_fen - a.reserve_fen for a, b in itertools.pairwise(days)}
    rows = [
        (day, sorted(by_day[day], key=lambda s: s.merchant_id), reserve_moved[day])
        for day in sorted(reserve_moved, reverse=True)
        if by_day[day] or reserve_moved[day]
    ]
    return page(
        request, "operator/reports_settlement.html", who=who, first=first, last=last, rows=rows
    )


def _csv(lines: Any, name: str) -> StreamingResponse:
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(f"{HOME}/exports/{{first}}/{{last}}/statements.csv")
def export_statements(
    request: Request, who: OperatorPage, first: date, last: date
) -> StreamingResponse:
    """Every merchant's statements of ``[first, last]``, as GET /v1/exports/statements.csv."""
    lines = settlement_exports.statements_csv(_ctx(request), None, first, last)
    return _csv(lines, f"statements-{first}-{last}.csv")


@router.get(f"{HOME}/exports/{{first}}/{{last}}/orders.csv")
def export_orders(
    request: Request, who: OperatorPage, first: date, last: date
) -> StreamingResponse:
    """Every order paid in ``[first, last]``: the API's GET /v1/exports/orders.csv."""
    lines = settlement_exports.orders_csv(_ctx(request), None, first, last)
    return _csv(lines, f"orders-{first}-{last}.csv")


def reconciliations(
    ctx: Context, first: date, last: date
) -> list[tuple[date, StoredReport | None]]:
    """Each day of the range, newest first, with its newest reconciliation run (None: not
    reconciled), as GET /v1/operator/reconciliations/{bill_date} reads it."""
    found: list[tuple[date, StoredReport | None]] = []
    day = last
    while day >= first:
        try:
            found.append((day, latest_report(ctx, day)))
        except funds.PaymentNotFound:
            found.append((day, None))
        day -= timedelta(days=1)
    return found


@router.get(f"{HOME}/reconciliation", response_class=HTMLResponse)
def reconciliation(
    request: Request, who: OperatorPage, first: date | None = None, last: date | None = None
) -> HTMLResponse:
    """The provider's bills matched against Jifen's records, day by day, and every break. With
    no provider configured the page says so, and still lists any run kept in the store."""
    ctx = _ctx(request)
    first, last = _range(ctx, first, last)
    runs = reconciliations(ctx, first, last)
    return page(
        request,
        "operator/reports_reconciliation.html",
        who=who,
        first=first,
        last=last,
        configured=getattr(request.app.state, "funds", None) is not None,
        runs=runs,
        any_run=any(stored for _, stored in runs),  # e.g. `jifen reconcile` run by hand
    )


@router.get(f"{HOME}/alerts", response_class=HTMLResponse)
def alerts(request: Request, who: OperatorPage, cursor: str | None = None) -> HTMLResponse:
    """Large-value alerts, newest day first (GET /v1/operator/alerts)."""
    found = funds.list_alerts(_ctx(request), cursor=cursor, limit=50)
    return page(request, "operator/reports_alerts.html", who=who, alerts=found)


def _webhook_page(
    request: Request,
    who: Caller,
    *,
    shown: str | None = None,
    replayed: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = _ctx(request)
    subscriptions = [
        (s, webhooks.deliveries(ctx, None, s.subscription_id, status=shown, cursor=None, limit=50))
        for s in webhooks.list_subscriptions(ctx, None)
    ]
    return page(
        request,
        "operator/reports_webhooks.html",
        who=who,
        status=status,
        subscriptions=subscriptions,
        shown=shown,
        statuses=DELIVERY_STATUSES,
        replayed=replayed,
        error=error,
    )


@router.get(f"{HOME}/webhooks", response_class=HTMLResponse)
def webhook_log(
    request: Request,
    who: OperatorPage,
    status: DeliveryStatus = None,
    replayed: Annotated[str | None, Query(pattern=r"^evt_[0-9a-f]{32}$")] = None,
) -> HTMLResponse:
    """The operator's subscriptions, each with its newest deliveries (GET /v1/webhooks/…)."""
    return _webhook_page(request, who, shown=status, replayed=replayed)


@router.post(
    f"{HOME}/webhooks/{{subscription_id}}/deliveries/{{event_id}}/replay",
    dependencies=[Depends(csrf.check)],
    response_model=None,
)
def replay(
    request: Request, who: OperatorPage, subscription_id: SubscriptionId, event_id: EventId
) -> RedirectResponse | HTMLResponse:
    """Send one event again, as POST /v1/webhooks/subscriptions/{id}/deliveries/{event}/replay:
    the delivery is pending again at once. Repeating it (a double click) only makes it pending
    again, so the form needs no key of its own. A refusal (no such delivery) is shown on the
    log itself."""
    try:
        webhooks.replay_one(_ctx(request), None, subscription_id, event_id)
    except JifenError as exc:
        return _webhook_page(request, who, error=describe(request, exc), status=exc.status)
    return RedirectResponse(f"{HOME}/webhooks?replayed={event_id}", status_code=303)
