"""Options more than one command takes, spelled once so their help reads the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jifen.store import DEFAULT_DB

__all__ = ["DbOption", "ProviderOption"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help=f"SQLite path or PostgreSQL URL [env JIFEN_DB; default {DEFAULT_DB}]"
    ),
]

ProviderOption = Annotated[
    Path | None,
    typer.Option(
        "--provider",
        envvar="JIFEN_PROVIDER",
        help="the payment provider's credentials.json (keys are files it names; see "
        "docs/payments.md) [env JIFEN_PROVIDER]",
    ),
]
