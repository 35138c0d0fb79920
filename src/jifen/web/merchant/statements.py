"""Statements (结算单): today's figures so far and every closed business day, what the provider
collected and paid when one is configured, and the CSV exports ``/v1/exports/*.csv`` give.

A closed day is the stored statement ``GET /v1/statements`` lists. Today is not closed yet: its
figures are the same pure ``jifen.settlement.statement`` over the movements booked so far, which
is exactly what the daily close will store (and may still change until it runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from jifen import funds
from jifen.app.clock import business_date
from jifen.app.context import Context
from jifen.settlement import Statement, statement, statements
from jifen.settlement.exports import orders_csv, statements_csv
from jifen.settlement.service import movements
from jifen.web.access import MerchantPage
from jifen.web.merchant.common import PAGE_SIZE, context, mine, only_mine
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
EXPORT_DAYS = 31
"""The default span of an export link: the last month of business days."""


def today_of(ctx: Context) -> date:
    return business_date(ctx.clock.now())


def today_statement(ctx: Context, merchant_id: str) -> Statement:
    """Today's statement as it stands: the close's own arithmetic over today's movements."""
    day = today_of(ctx)
    with ctx.engine.connect() as conn:
        mine_today = [m for m in movements(conn, day) if m.merchant_id == merchant_id]
    return statement(merchant_id, day, mine_today)


def provider_on(request: Request) -> bool:
    return getattr(request.app.state, "funds", None) is not None


@router.get("/merchant/statements", response_class=HTMLResponse)
def statement_list(
    request: Request, who: MerchantPage, cursor: str | None = None, merchant_id: str | None = None
) -> HTMLResponse:
    """Today's figures, then each closed day newest first; the payouts the reserve sent through
    the provider; the export links."""
    only_mine(who, merchant_id)
    ctx = context(request)
    found = statements(ctx, mine(who), cursor=cursor, limit=PAGE_SIZE)
    paid = funds.list_payouts(ctx, merchant_id=mine(who), cursor=None, limit=PAGE_SIZE)
    today = today_of(ctx)
    return page(
        request, "merchant/statements.html", who=who, today=today_statement(ctx, mine(who)),
        statements=found.items, next_cursor=found.next_cursor, payouts=paid.items,
        provider=provider_on(request), export_from=today - timedelta(days=EXPORT_DAYS - 1),
        export_to=today,
    )  # fmt: skip


@router.get("/merchant/statements/{day}", response_class=HTMLResponse)
def statement_page(request: Request, who: MerchantPage, day: date) -> HTMLResponse:
    """One business day's statement of this merchant: today's running figures, or the stored
    one of a closed day. A day with no statement of its own is not found (whoever else has one)."""
    ctx = context(request)
    today = today_of(ctx)
    if day == today:
        shown, closed = today_statement(ctx, mine(who)), False
    else:
        shown, closed = _closed(ctx, mine(who), day), True
    payouts = [
        p for p in funds.payouts(ctx, merchant_id=mine(who)) if p.business_date == day.isoformat()
    ]
    return page(
        request, "merchant/statement.html", who=who, s=shown, closed=closed, payouts=payouts,
        provider=provider_on(request),
    )  # fmt: skip


def _closed(ctx: Context, merchant_id: str, day: date) -> Statement:
    cursor: str | None = None
    while True:  # newest first: stop once past the day
        found = statements(ctx, merchant_id, cursor=cursor, limit=100)
        for s in found.items:
            if s.business_date == day:
                return s
            if s.business_date < day:
                raise HTTPException(404)
        if found.next_cursor is None:
            raise HTTPException(404)
        cursor = found.next_cursor


def _csv(lines: Iterator[str], name: str) -> StreamingResponse:
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _span(ctx: Context, first: date | None, last: date | None) -> tuple[date, date]:
    last = last or today_of(ctx)
    return first or last - timedelta(days=EXPORT_DAYS - 1), last


@router.get("/merchant/exports/statements.csv", response_class=StreamingResponse)
def export_statements(
    request: Request,
    who: MerchantPage,
    first: date | None = None,
    last: date | None = None,
    merchant_id: str | None = None,
) -> StreamingResponse:
    """This merchant's statements of business days [first, last], as ``GET
    /v1/exports/statements.csv`` gives them."""
    only_mine(who, merchant_id)
    ctx = context(request)
    first, last = _span(ctx, first, last)
    return _csv(statements_csv(ctx, mine(who), first, last), f"statements-{first}-{last}.csv")


@router.get("/merchant/exports/orders.csv", response_class=StreamingResponse)
def export_orders(
    request: Request,
    who: MerchantPage,
    first: date | None = None,
    last: date | None = None,
    merchant_id: str | None = None,
) -> StreamingResponse:
    """This merchant's orders paid on business days [first, last], with their points."""
    only_mine(who, merchant_id)
    ctx = context(request)
    first, last = _span(ctx, first, last)
    return _csv(orders_csv(ctx, mine(who), first, last), f"orders-{first}-{last}.csv")
