"""``jifen reconcile`` and ``jifen funds run``: the money path by hand (``jifen serve --provider``
runs the same steps on a schedule)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from jifen.cli._options import DbOption, ProviderOption
from jifen.cli._output import announce_clock, out
from jifen.cli.errors import ProviderRequired
from jifen.store import require_existing

if TYPE_CHECKING:
    from jifen.funds import Funds

__all__ = ["funds_app", "reconcile", "run"]

funds_app = typer.Typer(help="资金 the money path: splits, refunds, payouts at the provider.")
NOTIFY_PATH = "/v1/providers/{provider}/notify"


def open_funds(provider: Path | None, public_url: str) -> Funds:
    """The configured provider, or the one-line refusal that says how to configure it."""
    from jifen.funds import funds_from_credentials

    if provider is None:
        raise ProviderRequired(
            "需要支付机构配置：--provider credentials.json 或 JIFEN_PROVIDER / name the payment "
            "provider's credentials with --provider or JIFEN_PROVIDER (docs/payments.md)"
        )
    notify_url = public_url.rstrip("/") + NOTIFY_PATH.format(provider="wechatpay")
    return funds_from_credentials(provider, notify_url)


@funds_app.command("run")
def run(db: DbOption = None, provider: ProviderOption = None) -> None:
    """One pass of the money path 资金处理一次: lost payments, due splits, refunds, payouts."""
    from jifen.app import open_alliance
    from jifen.funds import run_money

    funds = open_funds(provider, "http://127.0.0.1:8000")
    ctx = open_alliance(require_existing(db))
    announce_clock(ctx)
    done = run_money(ctx, funds)
    ctx.engine.dispose()
    out.print(
        f"补记 applied {done.applied} · 发出分账 splits sent {done.splits_sent} · 完成 finished "
        f"{done.splits_finished} · 未完成退款 refunds open {done.refunds_open} · 未完成付款 "
        f"payouts open {done.payouts_open}"
    )


def reconcile(
    day: Annotated[str, typer.Option("--date", help="the bill's China-time date, YYYY-MM-DD")],
    db: DbOption = None,
    provider: ProviderOption = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="CSV file [default reconciliation-DATE.csv]")
    ] = None,
) -> None:
    """Reconcile a day against the provider's bills 对账; exit 1 if anything does not match."""
    from jifen.app import open_alliance
    from jifen.funds.reconciliation import reconcile_day
    from jifen.payments import ReconciliationStatus

    try:
        bill_date = date.fromisoformat(day)
    except ValueError as exc:
        raise typer.BadParameter("--date must be YYYY-MM-DD") from exc
    funds = open_funds(provider, "http://127.0.0.1:8000")
    ctx = open_alliance(require_existing(db))
    try:
        report, csv_text = reconcile_day(ctx, funds, bill_date)
    finally:
        ctx.engine.dispose()
    path = output or Path(f"reconciliation-{bill_date.isoformat()}.csv")
    path.write_text(csv_text, encoding="utf-8")
    table = Table(title=f"对账 reconciliation {bill_date.isoformat()}")
    for column in ("status", "count"):
        table.add_column(column, justify="right")
    for status in ReconciliationStatus:
        table.add_row(status.value, f"{report.counts.get(status, 0):,}")
    out.print(table)
    out.print(f"报告 report: {path}")
    if any(i.status is not ReconciliationStatus.MATCHED for i in report.items):
        raise typer.Exit(1)
