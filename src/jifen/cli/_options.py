"""Options more than one command takes, spelled once so their help reads the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

from jifen.store import DEFAULT_DB

__all__ = ["DbOption"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help=f"SQLite path or PostgreSQL URL [env JIFEN_DB; default {DEFAULT_DB}]"
    ),
]
