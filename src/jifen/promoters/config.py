"""Which withholding method the payouts use (compliance.md TAX-1, TAX-2), as a store setting.

Why a store setting and not a ``jifen serve`` option: the method is a fact about the operator's
tax position that every process paying or reporting must agree on (the CLI's batch, the served
API, the withholding report), and its history must outlive a restart, so it lives with the
records it shapes. ``jifen referral config --tax-method`` writes it.

Why from the next month: within one month the per-payment method nets the month's payments as one
(61号) and the cumulative method counts the month once; a month taxed half one way and half the
other would be netted against the wrong figures. A change therefore takes effect on the first
day of the next Asia/Shanghai month; the months before keep the method they were paid under
(each payout line records its own).

The default is ``cumulative``: an operator paying members through its own platform is an
互联网平台企业 under 国家税务总局公告2025年第16号 (TAX-2: do not apply 表二 to platform workers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from jifen.app.clock import SHANGHAI
from jifen.app.context import Context
from jifen.promoters.errors import TaxMethodInvalid
from jifen.store import insert_missing
from jifen.store import tables as t

PER_PAYMENT = "per_payment"
CUMULATIVE = "cumulative"
METHODS = (PER_PAYMENT, CUMULATIVE)
DEFAULT_METHOD = CUMULATIVE
SETTING = "referral.tax_method"


@dataclass(frozen=True)
class MethodChange:
    from_month: str  # YYYY-MM, the first month paid under ``method``
    method: str


def month_of(at: datetime) -> str:
    """The Asia/Shanghai month (YYYY-MM) an instant belongs to: the tax month of a payment, the
    month a reward accrues in (its monthly cap's month)."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m")


def next_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def _history(conn: Connection) -> list[MethodChange]:
    text = conn.execute(
        select(t.settings.c.value).where(t.settings.c.name == SETTING)
    ).scalar_one_or_none()
    return [MethodChange(**c) for c in json.loads(text)] if text else []


def method_changes(ctx: Context, *, conn: Connection | None = None) -> list[MethodChange]:
    """Every change in order (none: the default has always applied)."""
    with ctx.reading(conn) as c:
        return _history(c)


def method_for(ctx: Context, month: str, *, conn: Connection | None = None) -> str:
    """The method in force for payments in ``month``."""
    method = DEFAULT_METHOD
    for change in method_changes(ctx, conn=conn):
        if change.from_month <= month:
            method = change.method
    return method


def set_method(ctx: Context, method: str, now: datetime) -> MethodChange:
    """Choose ``method`` from the month after ``now``'s; a second choice before then replaces
    the first. Choosing the method already in force next month records nothing new."""
    method = method.replace("-", "_")
    if method not in METHODS:
        raise TaxMethodInvalid(
            "预扣方法须为 per-payment 或 cumulative / the withholding method is per-payment or "
            "cumulative",
            method=method,
        )
    start = next_month(month_of(now))

    def work(conn: Connection) -> MethodChange:
        history = [c for c in _history(conn) if c.from_month < start]
        change = MethodChange(start, method)
        current = history[-1].method if history else DEFAULT_METHOD
        if current != method:
            history.append(change)
        value = json.dumps([c.__dict__ for c in history])
        insert_missing(conn, t.settings, [{"name": SETTING, "value": value}])
        conn.execute(update(t.settings).where(t.settings.c.name == SETTING).values(value=value))
        return change

    return ctx.atomic(None, work)
