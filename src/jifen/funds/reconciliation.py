"""Reconciliation, the shell (docs/reconciliation.md): download the provider's two bills of a
China-time date, read Jifen's own records of that date, match them with the pure
``jifen.payments.reconcile``, and keep the report.

Reading never writes a financial record: a run stores its report (one row per run, nothing
replaced) and the same store and bills give the same report, byte for byte. What a break asks
for (a back-fill, marking an instruction failed, a correcting entry) is the operator's next step,
never done silently here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, func, select

from jifen.app.clock import business_date, day_start
from jifen.app.context import Context
from jifen.funds.config import Funds
from jifen.funds.errors import PaymentNotFound
from jifen.payments import (
    BillKind,
    OurPayment,
    OurRefund,
    OurReturn,
    Ours,
    OurSplit,
    ProviderRefused,
    ReconciliationReport,
    parse_split_bill,
    parse_trade_bill,
    reconcile,
    report_csv,
)
from jifen.store import tables as t


@dataclass(frozen=True)
class StoredReport:
    bill_date: str
    run: int
    run_at: datetime
    summary: dict[str, object]
    report_csv: str


def _bill(funds: Funds, kind: BillKind, day: date) -> bytes | None:
    """The bill's bytes (hash checked by the adapter); None for a day the provider had nothing."""
    try:
        return funds.provider.bill(kind, day).content
    except ProviderRefused as exc:
        if exc.context.get("provider_code") == "NO_STATEMENT_EXIST":
            return None
        raise


def ours_of(conn: Connection, day: date, trade_nos: set[str], order_nos: set[str]) -> Ours:
    """Jifen's records of ``day``: what the bills of that day should hold."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    p, r, lines, ret = t.payments.c, t.refunds.c, t.split_lines.c, t.split_returns.c
    payments = [
        OurPayment(row.out_trade_no, row.transaction_id, row.amount_fen)
        for row in conn.execute(select(t.payments).where(p.paid_at >= start, p.paid_at < end))
    ]
    refunds = [
        OurRefund(row.out_refund_no, row.transaction_id, row.customer_fen)
        for row in conn.execute(
            select(t.refunds.c.out_refund_no, t.refunds.c.customer_fen, p.transaction_id)
            .join(t.payments, p.out_trade_no == r.out_trade_no)
            .where(r.sent_at >= start, r.sent_at < end)
        )
    ]
    splits = [
        OurSplit(row.out_order_no, row.account, row.fen)
        for row in conn.execute(
            select(t.split_lines).where(
                lines.result == "SUCCESS", lines.finished_at >= start, lines.finished_at < end
            )
        )
    ]
    returns = [
        OurReturn(row.out_return_no, row.out_order_no, row.account, row.fen)
        for row in conn.execute(
            select(t.split_returns).where(
                ret.state == "succeeded", ret.finished_at >= start, ret.finished_at < end
            )
        )
    ]
    known_orders = set(
        conn.execute(
            select(t.split_orders.c.out_order_no).where(
                t.split_orders.c.out_order_no.in_(sorted(order_nos))
            )
        ).scalars()
    )
    known_transactions = set(
        conn.execute(
            select(p.transaction_id).where(p.transaction_id.in_(sorted(trade_nos)))
        ).scalars()
    )
    return Ours(
        payments=payments,
        refunds=refunds,
        splits=splits,
        returns=returns,
        known_orders=frozenset(known_orders),
        known_transactions=frozenset(x for x in known_transactions if x),
    )


def reconcile_day(ctx: Context, funds: Funds, day: date) -> tuple[ReconciliationReport, str]:
    """Reconcile ``day`` and keep the report; returns it and its CSV."""
    trade_raw, split_raw = _bill(funds, BillKind.TRADE, day), _bill(funds, BillKind.SPLIT, day)
    trade = parse_trade_bill(trade_raw) if trade_raw else ()
    split = parse_split_bill(split_raw) if split_raw else ()
    unfreezes = [s for s in split if s.kind.value == "unfreeze"]
    with ctx.engine.connect() as conn:
        ours = ours_of(
            conn,
            day,
            {s.transaction_id for s in unfreezes},
            {s.out_no for s in unfreezes},
        )
    report = reconcile(day, ours, trade, split)
    csv_text = report_csv(report)
    summary = {
        "bill_date": day.isoformat(),
        "counts": {str(k): v for k, v in sorted(report.counts.items())},
        "totals": [
            {
                "kind": str(x.kind),
                "ours_fen": x.ours_fen,
                "bill_fen": x.bill_fen,
                "bill_fee_fen": x.bill_fee_fen,
            }
            for x in report.totals
        ],
        "items": [
            {
                "kind": str(i.kind),
                "key": i.key,
                "provider_ref": i.provider_ref,
                "status": str(i.status),
                "ours_fen": i.ours_fen,
                "bill_fen": i.bill_fen,
                "diff_fen": i.diff_fen,
                "note": i.note,
            }
            for i in report.items
        ],
    }

    def keep(conn: Connection) -> None:
        last = conn.execute(
            select(func.max(t.reconciliations.c.run)).where(
                t.reconciliations.c.bill_date == day.isoformat()
            )
        ).scalar_one()
        conn.execute(
            t.reconciliations.insert().values(
                bill_date=day.isoformat(),
                run=(last or 0) + 1,
                run_at=ctx.clock.now(),
                summary=json.dumps(summary, ensure_ascii=False, sort_keys=True),
                report_csv=csv_text,
            )
        )

    ctx.atomic(None, keep)  # a racing run of the same date takes the next number
    return report, csv_text


def latest_report(ctx: Context, day: date) -> StoredReport:
    """The newest run's report for ``day``."""
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(t.reconciliations)
            .where(t.reconciliations.c.bill_date == day.isoformat())
            .order_by(t.reconciliations.c.run.desc())
            .limit(1)
        ).first()
    if row is None:
        raise PaymentNotFound(
            f"{day} 尚未对账 / {day} has not been reconciled yet",
            day=day.isoformat(),
            detail_key="reconciliation",
        )
    return StoredReport(row.bill_date, row.run, row.run_at, json.loads(row.summary), row.report_csv)


BILLS_READY = timedelta(hours=10, minutes=30)  # into the next China-time day (payments.md)
MAX_DAYS_PER_PASS = 7  # a long outage is caught up a week per pass, oldest first


def last_day_with_bills(now: datetime) -> date:
    """The latest China-time date whose bills are out at ``now`` (10:30 the next day)."""
    return business_date(now - BILLS_READY) - timedelta(days=1)


def reconcile_due(ctx: Context, funds: Funds, through: date) -> list[ReconciliationReport]:
    """The daily job: every day from the first payment to ``through`` (see
    ``last_day_with_bills``) which has no report yet is reconciled once, oldest first, at most
    ``MAX_DAYS_PER_PASS`` of them. A day already reconciled is left alone (``jifen reconcile
    --date`` runs one again on purpose)."""
    with ctx.engine.connect() as conn:
        first = conn.execute(select(func.min(t.payments.c.created_at))).scalar_one()
        done = set(conn.execute(select(t.reconciliations.c.bill_date).distinct()).scalars())
    if first is None:
        return []
    day = business_date(first)
    reports: list[ReconciliationReport] = []
    while day <= through and len(reports) < MAX_DAYS_PER_PASS:
        if day.isoformat() not in done:
            reports.append(reconcile_day(ctx, funds, day)[0])
        day += timedelta(days=1)
    return reports
