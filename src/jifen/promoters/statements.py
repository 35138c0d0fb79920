"""What a payee was paid and what was withheld, and the withholding report the operator files.

Only lines that succeeded count: a failed line paid nothing and withheld nothing (its rewards
went to a later batch). A month is the line's tax month (the Asia/Shanghai month of the payment).

- ``monthly_statements``: per payee per month, gross, tax, net, the method, each line with its
  batch and the orders its rewards came from; what is still owed, and whether it waits for the
  payee's verification.
- ``annual_summary``: the year's figures a payee needs for the annual reconciliation (TAX-3,
  个税法实施条例 art 25: 1 March to 30 June of the next year): 劳务报酬 income, its 收入额 (80 %
  of it), the tax prepaid.
- ``withholding_rows`` / ``withholding_csv``: one row per payee per month for the operator's
  扣缴申报. Why in clear: the return is filed under the payee's real name and ID number, so the
  operator's export unseals them (and only it: the payee's own view shows masks). Amounts are yuan
  with two decimals, exact from fen.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from jifen.app.context import Context
from jifen.promoters import payees
from jifen.store import tables as t


@dataclass(frozen=True)
class StatementLine:
    batch_id: str
    gross_fen: int
    tax_fen: int
    net_fen: int
    paid_at: datetime | None
    orders: tuple[str, ...]  # the orders the line's rewards came from


@dataclass(frozen=True)
class MonthStatement:
    member_id: str
    month: str  # YYYY-MM
    method: str
    gross_fen: int
    tax_fen: int
    net_fen: int
    lines: tuple[StatementLine, ...]


@dataclass(frozen=True)
class Owed:
    """Accrued and not yet paid (in no batch, or in one still open)."""

    fen: int
    awaiting_verification: bool  # the payee is not verified or has not consented (or none)


@dataclass(frozen=True)
class AnnualSummary:
    member_id: str
    year: int
    gross_fen: int  # 劳务报酬收入
    income_amount_fen: int  # 收入额: 80 % of it (the annual return's figure), rounded down
    tax_fen: int  # 已预扣预缴税额
    net_fen: int
    months: tuple[MonthStatement, ...]
    reconcile_from: str  # the annual reconciliation window, next year
    reconcile_until: str


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, exactly (no float)."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def _succeeded(conn: Connection, year: int, month: str | None, member_id: str | None) -> list:  # type: ignore[type-arg]
    c = t.referral_payout_lines.c
    query = select(t.referral_payout_lines).where(c.state == "succeeded")
    query = query.where(c.tax_month == month if month else c.tax_month.like(f"{year:04d}-%"))
    if member_id is not None:
        query = query.where(c.member_id == member_id)
    return list(conn.execute(query.order_by(c.member_id, c.tax_month, c.finished_at)))


def _orders(conn: Connection, batch_id: str, member_id: str) -> tuple[str, ...]:
    r = t.referral_rewards.c
    return tuple(
        conn.execute(
            select(r.order_ref)
            .where(r.batch_id == batch_id, r.promoter_id == member_id)
            .order_by(r.order_ref)
            .distinct()
        ).scalars()
    )


def _months(conn: Connection, rows: list) -> list[MonthStatement]:  # type: ignore[type-arg]
    grouped: dict[tuple[str, str], list] = {}  # type: ignore[type-arg]
    for row in rows:
        grouped.setdefault((row.member_id, row.tax_month), []).append(row)
    out = []
    for (member_id, month), lines in grouped.items():
        out.append(
            MonthStatement(
                member_id,
                month,
                lines[-1].method,
                sum(x.gross_fen for x in lines),
                sum(x.tax_fen for x in lines),
                sum(x.net_fen for x in lines),
                tuple(
                    StatementLine(
                        x.batch_id,
                        x.gross_fen,
                        x.tax_fen,
                        x.net_fen,
                        x.finished_at,
                        _orders(conn, x.batch_id, member_id),
                    )
                    for x in lines
                ),
            )
        )
    return out


def monthly_statements(ctx: Context, member_id: str, year: int) -> list[MonthStatement]:
    """The payee's months of ``year`` with a payment, in order."""
    with ctx.engine.connect() as conn:
        return _months(conn, _succeeded(conn, year, None, member_id))


def owed(ctx: Context, member_id: str) -> Owed:
    r, c = t.referral_rewards.c, t.referral_payout_lines.c
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(r.fen, c.state)
            .outerjoin(
                t.referral_payout_lines,
                (c.batch_id == r.batch_id) & (c.member_id == r.promoter_id),
            )
            .where(r.promoter_id == member_id, r.state == "accrued")
        ).all()
        payee = conn.execute(select(t.payees).where(t.payees.c.member_id == member_id)).first()
    fen = sum(int(f) for f, state in rows if state != "succeeded")
    return Owed(fen, payee is None or not payees.payable(payee))


def annual_summary(ctx: Context, member_id: str, year: int) -> AnnualSummary:
    months = tuple(monthly_statements(ctx, member_id, year))
    gross = sum(m.gross_fen for m in months)
    return AnnualSummary(
        member_id,
        year,
        gross,
        gross * 4 // 5,
        sum(m.tax_fen for m in months),
        sum(m.net_fen for m in months),
        months,
        f"{year + 1:04d}-03-01",
        f"{year + 1:04d}-06-30",
    )


@dataclass(frozen=True)
class WithholdingRow:
    month: str
    member_id: str
    real_name: str
    id_number: str
    method: str
    gross_fen: int
    taxable_fen: int  # the month's (per payment) or the year's so far (cumulative), last line
    rate_bp: int
    quick_deduction_fen: int
    tax_fen: int
    net_fen: int


def withholding_rows(ctx: Context, year: int, month: int | None = None) -> list[WithholdingRow]:
    """One row per payee per month (all months of ``year`` without ``month``), names in clear."""
    with ctx.engine.connect() as conn:
        key = f"{year:04d}-{month:02d}" if month else None
        statements = _months(conn, _succeeded(conn, year, key, None))
        raw = {(r.member_id, r.tax_month): r for r in _succeeded(conn, year, key, None)}
        out = []
        for s in sorted(statements, key=lambda s: (s.month, s.member_id)):
            last = raw[(s.member_id, s.month)]
            who = payees.identity(ctx, s.member_id, conn=conn)
            out.append(
                WithholdingRow(
                    s.month, s.member_id, who.real_name, who.id_number, s.method, s.gross_fen,
                    last.taxable_fen, last.rate_bp, last.quick_deduction_fen, s.tax_fen, s.net_fen,
                )
            )  # fmt: skip
    return out


HEADER = (
    "所属月份 month", "会员编号 member_id", "姓名 name", "身份证号 id_number",
    "所得项目 income_item", "预扣方法 method", "收入 income_yuan",
    "应纳税所得额 taxable_yuan", "预扣率 rate", "速算扣除数 quick_deduction_yuan",
    "预扣税额 tax_yuan", "实发金额 net_yuan",
)  # fmt: skip


def withholding_csv(rows: list[WithholdingRow]) -> str:
    """The report as CSV (UTF-8), with a total line the operator checks against the ledger's
    TAX_WITHHELD for the period."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    for r in rows:
        w.writerow(
            [
                r.month, r.member_id, r.real_name, r.id_number, "劳务报酬", r.method,
                yuan(r.gross_fen), yuan(r.taxable_fen), f"{r.rate_bp // 100}%",
                yuan(r.quick_deduction_fen), yuan(r.tax_fen), yuan(r.net_fen),
            ]
        )  # fmt: skip
    w.writerow(
        ["合计 total", "", "", "", "", "", yuan(sum(r.gross_fen for r in rows)), "", "", "",
         yuan(sum(r.tax_fen for r in rows)), yuan(sum(r.net_fen for r in rows))]
    )  # fmt: skip
    return out.getvalue()
