"""``jifen referral …``: the withholding method, a payout batch by hand, and the withholding
report the operator files (issue 14; ``jifen.promoters``, docs/referrals.md)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from jifen.cli._options import DbOption, ProviderOption
from jifen.cli._output import announce_clock, out
from jifen.cli.funds import open_funds
from jifen.store import require_existing

__all__ = ["referral_app"]

referral_app = typer.Typer(help="推荐奖励 referral rewards: tax method, payouts, withholding.")
payouts_app = typer.Typer(help="佣金发放 payout batches through the provider's 商家转账.")
referral_app.add_typer(payouts_app, name="payouts")


class TaxMethod(StrEnum):
    per_payment = "per-payment"
    cumulative = "cumulative"


@referral_app.command("config")
def configure(
    tax_method: Annotated[
        TaxMethod | None,
        typer.Option(help="per-payment (预扣率表二) or cumulative (2025年第16号), from next month"),
    ] = None,
    db: DbOption = None,
) -> None:
    """预扣方法 show the withholding method, or choose it from the next calendar month."""
    from jifen.app import open_alliance
    from jifen.promoters.config import method_changes, method_for, month_of, set_method

    ctx = open_alliance(require_existing(db))
    try:
        now = ctx.clock.now()
        if tax_method is not None:
            change = set_method(ctx, tax_method.value, now)
            out.print(f"自 {change.from_month} 起 from {change.from_month}: {change.method}")
        month = month_of(now)
        out.print(f"本月 this month {month}: {method_for(ctx, month)}")
        for c in method_changes(ctx):
            out.print(f"  {c.from_month} → {c.method}")
    finally:
        ctx.engine.dispose()


@payouts_app.command("run")
def run(db: DbOption = None, provider: ProviderOption = None) -> None:
    """一次发放 one pass: follow the open batch, or make and send the next one."""
    from jifen.app import open_alliance
    from jifen.promoters.payouts import run_payout_batch

    funds = open_funds(provider, "http://127.0.0.1:8000")
    ctx = open_alliance(require_existing(db))
    try:
        announce_clock(ctx)
        done = run_payout_batch(ctx, funds, ctx.clock.now())
    finally:
        ctx.engine.dispose()
    if done.batch_id is None:
        out.print("无应发款项 nothing owed to a payable payee, no batch open")
        return
    out.print(
        f"批次 batch {done.batch_id}: {done.state} · 成功 paid {done.lines_paid} · 失败 failed "
        f"{done.lines_failed}"
    )


@referral_app.command("withholding")
def withholding(
    year: Annotated[int, typer.Option(min=2000, max=9999, help="the tax year")],
    output: Annotated[Path, typer.Option("--out", help="the CSV file to write")],
    month: Annotated[int | None, typer.Option(min=1, max=12, help="one month only")] = None,
    db: DbOption = None,
) -> None:
    """扣缴报表 the withholding report as CSV: one row per payee per month, names in clear (so
    only to a file, never to the terminal)."""
    from jifen.app import open_alliance
    from jifen.promoters.statements import withholding_csv, withholding_rows

    ctx = open_alliance(require_existing(db))
    try:
        text = withholding_csv(withholding_rows(ctx, year, month))
    finally:
        ctx.engine.dispose()
    output.write_text(text, encoding="utf-8")
    out.print(f"报表 report: {output}")
