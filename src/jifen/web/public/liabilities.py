"""The liabilities and the reserve, in public (brief §1: a published liabilities total).

The figures are the liability report's (``jifen.settlement.liabilities``, what
``GET /v1/audit/liabilities`` and ``GET /v1/reports/liabilities`` answer): outstanding points,
their value, the reserve and its coverage, by expiry month. The chart is each closed business
day's close (``jifen.settlement.history``), beside a table of the same figures. Then the latest
signed checkpoint (``jifen.web.public.checkpoints``): what a member checks their proof against.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from jifen import i18n
from jifen.settlement import coverage_text, liabilities
from jifen.settlement.history import DayFigures, reserve_history
from jifen.web.access import Viewer
from jifen.web.charts import Series, line_chart
from jifen.web.public.checkpoints import latest_view
from jifen.web.render import language, page

router = APIRouter(include_in_schema=False)
CHART_DAYS = 90


def chart(lang: str, days: list[DayFigures]) -> str | None:
    """Reserve and liability over the closed days, or None before two days are closed (one
    point is no line)."""
    if len(days) < 2:
        return None

    def t(msgid: str) -> str:
        return i18n.text(msgid, lang)

    return line_chart(
        t("web.public.liabilities.chart"),
        [d.business_date for d in days],
        [
            Series(t("web.public.liabilities.liability"), [d.liability_fen for d in days]),
            Series(t("web.public.liabilities.reserve"), [d.reserve_fen for d in days]),
        ],
        unit=t("web.public.liabilities.unit_fen"),
    )


@router.get("/liabilities", response_class=HTMLResponse)
def liabilities_page(request: Request, who: Viewer) -> HTMLResponse:
    ctx = request.app.state.ctx
    report = liabilities(ctx)
    days = reserve_history(ctx, days=CHART_DAYS)
    return page(
        request,
        "public/liabilities.html",
        who=who,
        report=report,
        coverage=coverage_text(report.reserve),
        days=list(reversed(days)),
        chart=chart(language(request), days),
        checkpoint=latest_view(ctx),
    )
