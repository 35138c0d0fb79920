"""What both lab commands share: exact yuan options and the --json flag."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="输出摘要 JSON print the summary as JSON")]


def yuan_to_fen(text: str, option: str, *, zero_ok: bool = False) -> int:
    """Yuan text to exact integer fen; more than 2 decimals is an error, never a rounding."""
    try:
        fen = Decimal(text) * 100
    except InvalidOperation:
        raise typer.BadParameter(f"{option} must be an amount in yuan, got {text!r}") from None
    if (
        not fen.is_finite()
        or fen != fen.to_integral_value()
        or fen < 0
        or (fen == 0 and not zero_ok)
    ):
        sign = "non-negative" if zero_ok else "positive"
        raise typer.BadParameter(f"{option} must be a {sign} yuan amount with at most 2 decimals")
    return int(fen)
