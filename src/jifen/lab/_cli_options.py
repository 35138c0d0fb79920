"""What both lab commands share: exact yuan options, the --json flag and the report step."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jifen.lab._result import LabResult

JsonFlag = Annotated[bool, typer.Option("--json", help="输出摘要 JSON print the summary as JSON")]


def yuan_to_fen(text: str, option: str, *, zero_ok: bool = False) -> int:
    """Yuan text to exact integer fen; more than 2 decimals is an error, never a rounding.

    A usage error (``typer.BadParameter``, exit 2 with the usage line), like typer's own
    ``min=`` checks: this is the option's syntax, not the scheme's arithmetic."""
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


def write_and_print_json(result: LabResult, out: Path, as_json: bool) -> Path:
    """Write the run's report to ``out``; with ``--json`` print the summary to standard output
    (and the report's path to standard error, so the output stays parseable). Returns the HTML
    report's path. matplotlib is imported here, only when a report is drawn."""
    from jifen.lab.report import write_report

    files = write_report(result, out)
    if as_json:
        sys.stdout.write(json.dumps(result.summary, indent=2, ensure_ascii=False, sort_keys=True))
        sys.stdout.write("\n")
        Console(stderr=True).print(f"报告 report: {files.html_path}")
    return files.html_path
