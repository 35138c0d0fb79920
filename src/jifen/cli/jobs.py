"""``jifen jobs run``: close every finished business day by hand (``jifen serve`` runs the same
jobs on a schedule)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from jifen.cli._options import DbOption
from jifen.cli._output import announce_clock, out
from jifen.store import require_existing

__all__ = ["jobs_app", "run"]

jobs_app = typer.Typer(help="日终任务 daily jobs: releases, expiries, reminders, settlement.")


@jobs_app.command("run")
def run(
    db: DbOption = None,
    until: Annotated[
        str | None, typer.Option(help="close business days up to this date (YYYY-MM-DD)")
    ] = None,
) -> None:
    """Close every finished business day not yet closed (idempotent per day) 运行日终任务."""
    from datetime import date

    from jifen.app import open_alliance
    from jifen.jobs import run_jobs
    from jifen.settlement import reserve_status

    try:
        last = date.fromisoformat(until) if until else None
    except ValueError as exc:
        raise typer.BadParameter("--until must be YYYY-MM-DD") from exc
    ctx = open_alliance(require_existing(db))  # the store's own clock, simulated or real
    announce_clock(ctx)
    days = run_jobs(ctx, last)
    table = Table(title="日终 business days closed")
    for column in ("date", "released", "expired", "reminders", "statements", "net fen", "reserve"):
        table.add_column(column, justify="right")
    for d in days:
        table.add_row(
            d.business_date.isoformat(),
            f"{d.released:,}",
            f"{d.expired:,}",
            f"{d.reminders:,}",
            f"{len(d.statements):,}",
            f"{sum(s.net_fen for s in d.statements):,}",
            "[green]✔[/green]" if d.reserve_ok else "[red]✘ short[/red]",
        )
    out.print(table if days else "没有需要结算的营业日 / no business day left to close")
    if days and days[-1].checkpoint is not None:
        out.print(
            f"负债快照已签名 liability snapshot signed: checkpoint {days[-1].checkpoint} "
            "(jifen audit checkpoints)"
        )
    status = reserve_status(ctx)
    ctx.engine.dispose()
    if not all(d.reserve_ok for d in days) or not status.covered:
        raise typer.Exit(1)
