"""``jifen webhooks deliver``: one bounded pass of the webhook dispatcher by hand (``jifen
serve`` runs the same passes every few seconds)."""

from __future__ import annotations

from typing import Annotated

import typer

from jifen.cli._options import DbOption
from jifen.cli._output import announce_clock, out
from jifen.store import require_existing

__all__ = ["deliver", "webhooks_app"]

webhooks_app = typer.Typer(help="事件推送 webhooks: deliver what the outbox holds.")


@webhooks_app.command("deliver")
def deliver(
    db: DbOption = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="deliveries attempted in this pass at most")
    ] = 200,
) -> None:
    """Send the deliveries that are due, once each 投递到期的事件 (failures are retried later)."""
    from jifen.app import open_alliance
    from jifen.webhooks import deliver_due

    ctx = open_alliance(require_existing(db))  # the store's own clock, simulated or real
    try:
        announce_clock(ctx)
        result = deliver_due(ctx, limit=limit)
    finally:
        ctx.engine.dispose()
    out.print(
        f"投递 attempted {result.attempted}: delivered {result.delivered}, "
        f"retrying {result.retrying}, failed {result.failed}"
    )
