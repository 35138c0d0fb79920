"""``jifen lint``: a rule document or a pitched scheme checked against the legal limits."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jifen.cli._output import data, json_text, out, say
from jifen.cli.errors import LintInputUnreadable

if TYPE_CHECKING:
    from jifen.compliance import LintReport

__all__ = ["lint"]


def lint(
    file: Annotated[Path, typer.Argument(help="a Jifen rule document or a scheme description")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable findings")] = False,
) -> None:
    """Check a rule document or a pitched scheme against the legal limits 合规检查.

    Exit 1 when any finding is an error or a block; 0 with warnings only."""
    from jifen.compliance import lint_text

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LintInputUnreadable(
            f"cannot read {file}: {exc.__class__.__name__} (无法读取)"
        ) from exc
    report = lint_text(text)
    if as_json:
        print(
            json_text(
                {
                    "file": str(file),
                    "kind": report.kind,
                    "name": report.name,
                    "refused": report.refused,
                    "findings": [f.as_dict() for f in report.findings],
                },
                indent=2,
            )
        )
    else:
        _print_lint(file, report)
    if report.refused:
        raise typer.Exit(1)


def _print_lint(file: Path, report: LintReport) -> None:
    kind = "方案 scheme" if report.kind == "scheme" else "规则 rule document"
    if not report.findings:
        say(out, ("✔ 合规检查通过 no findings", "green"), ": ", data(file), f" ({kind})")
        return
    colour = {"block": "bold red", "error": "red", "warn": "yellow"}
    for f in report.findings:
        say(
            out,
            (f"{f.severity.value.upper():5}", colour[f.severity.value]),
            f" {f.id:6} ",
            data(f"{f.path}: {f.detail}"),
        )
        say(out, "      ", data(f.explanation_zh))
        say(out, "      ", data(f.explanation_en))
        say(out, ("      依据 basis: ", "dim"), data(f.basis, "dim"))
    verdict = ("✘ 拒绝 refused", "red") if report.refused else ("⚠ 需确认 warnings", "yellow")
    counts = ", ".join(
        f"{sum(1 for f in report.findings if f.severity.value == s)} {s}"
        for s in ("block", "error", "warn")
    )
    say(out, verdict, ": ", data(file), f" ({kind}): {counts}")
