"""``jifen tax preview``: the income tax a payout would withhold, figure by figure, so an operator
can check a number by hand before any payout runs (issue 14; ``jifen.referral.tax``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from jifen.cli._output import json_text, out

__all__ = ["tax_app"]

tax_app = typer.Typer(help="个人所得税 income tax withheld from referral commissions (劳务报酬).")


class Method(StrEnum):
    per_payment = "per-payment"
    cumulative = "cumulative"


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"  # amounts here are never negative


def _rate(bp: int) -> str:
    return f"{bp // 100}%"


def _fen(text: str, option: str) -> int:
    from jifen.payments import yuan_to_fen

    try:
        fen = yuan_to_fen(text.strip())
        if fen < 0:
            raise ValueError(text)
        return fen
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is not an amount in yuan (e.g. 30000.00)", param_hint=option
        ) from exc


def _incomes(text: str) -> list[tuple[str, int]]:
    rows = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        month, _, amount = part.partition("=")
        if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
            raise typer.BadParameter(
                f"{part!r}: write MONTH=YUAN, e.g. 2026-01=10000.00", param_hint="--incomes"
            )
        rows.append((month, _fen(amount, "--incomes")))
    if not rows:
        raise typer.BadParameter("give at least one MONTH=YUAN", param_hint="--incomes")
    return rows


@tax_app.command("preview")
def preview(
    method: Annotated[
        Method, typer.Option(help="per-payment (预扣率表二) or cumulative (2025年第16号)")
    ],
    income: Annotated[str | None, typer.Option(help="per-payment: the payment in yuan")] = None,
    incomes: Annotated[
        str | None, typer.Option(help="cumulative: MONTH=YUAN,… of one tax year, in order")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """预览代扣个税 the withholding on one payment, or on a tax year's months (cumulative)."""
    from jifen.referral import ROUNDING, cumulative, per_payment

    if method is Method.per_payment:
        if income is None:
            raise typer.BadParameter("per-payment needs --income", param_hint="--income")
        w = per_payment(_fen(income, "--income"))
        answer: dict[str, Any] = {
            "method": method.value, "income": _yuan(w.income_fen),
            "taxable_income": _yuan(w.taxable_fen), "rate": _rate(w.rate_bp),
            "quick_deduction": _yuan(w.quick_deduction_fen), "tax": _yuan(w.tax_fen),
            "rounding": ROUNDING,
        }  # fmt: skip
        rows = [answer]
    else:
        if incomes is None:
            raise typer.BadParameter("cumulative needs --incomes", param_hint="--incomes")
        try:
            months = cumulative(_incomes(incomes))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--incomes") from exc
        rows = [
            {
                "month": m.month,
                "income": _yuan(m.income_fen),
                "cumulative_income": _yuan(m.cumulative_income_fen),
                "cumulative_expenses": _yuan(m.cumulative_expenses_fen),
                "consecutive_months": m.consecutive_months,
                "cumulative_deduction": _yuan(m.cumulative_deduction_fen),
                "cumulative_taxable_income": _yuan(m.cumulative_taxable_fen),
                "rate": _rate(m.rate_bp),
                "quick_deduction": _yuan(m.quick_deduction_fen),
                "cumulative_tax": _yuan(m.cumulative_tax_fen),
                "withheld_before": _yuan(m.withheld_before_fen),
                "tax": _yuan(m.tax_fen),
            }
            for m in months
        ]
        answer = {"method": method.value, "months": rows, "rounding": ROUNDING}
    if as_json:
        out.print(json_text(answer, indent=2), markup=False, highlight=False)
        return
    table = Table(title=f"代扣个税 income tax withheld ({method.value}, yuan; {ROUNDING})")
    table.add_column("figure")  # one column per month: a year fits a terminal's width
    for row in rows:
        table.add_column(str(row.get("month", "yuan")), justify="right")
    for figure in (k for k in rows[0] if k not in ("method", "rounding", "month")):
        table.add_row(figure, *(str(row[figure]) for row in rows))
    out.print(table)
