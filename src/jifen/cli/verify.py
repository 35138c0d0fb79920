"""``jifen verify``: the auditor's check of a store, and how a verification report is printed
(``jifen demo`` ends with the same lines)."""

from __future__ import annotations

from typing import Annotated

import typer

from jifen.cli._options import DbOption
from jifen.cli._output import data, json_text, out, say
from jifen.ledger import Report
from jifen.settlement import verify_books
from jifen.store import make_engine, ping, require_existing

__all__ = ["print_report", "verify"]


def verify(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Recompute every hash, re-derive every balance and lot, check the invariants 校验账本."""
    url = require_existing(db, what="ledger")  # opening a missing file would create it empty
    engine = make_engine(url)
    ping(engine)
    report = verify_books(engine)  # the ledger's checks and the statements'
    engine.dispose()
    if as_json:
        print(json_text(_as_json(report)))
    else:
        print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _as_json(report: Report) -> dict[str, object]:
    return {
        "ok": report.ok,
        "hash_alg": report.hash_alg,
        "blocks": report.blocks,
        "entries": report.entries,
        "totals": report.totals,
        "findings": [
            {
                "code": f.code,
                "message": f.message,
                "chain_id": f.chain_id,
                "height": f.height,
                "entry_id": f.entry_id,
            }
            for f in report.findings
        ],
    }


def print_report(report: Report) -> None:
    """One line when the books check out; else the first finding and up to nine more."""
    if report.ok:
        t = report.totals
        say(
            out,
            ("✔ 校验通过 verified", "green"),
            " (",
            data(report.hash_alg),
            f"): {report.blocks:,} blocks, {report.entries:,} entries; issued {t['issued']:,} = "
            f"redeemed {t['redeemed']:,} + expired {t['expired']:,} + clawed back "
            f"{t['clawed_back']:,} + outstanding {t['outstanding']:,}",
        )
        return
    first = report.findings[0]
    say(
        out,
        ("✘ 校验失败 verification failed", "red"),
        " at ",
        data(first.where() or "the books"),
        ": ",
        data(f"[{first.code}] {first.message}"),
    )
    for finding in report.findings[1:10]:
        say(out, "  also ", data(f"{finding.where() or '-'}: [{finding.code}] {finding.message}"))
    if len(report.findings) > 10:
        say(out, f"  … {len(report.findings) - 10} more")
