"""``jifen verify``: the auditor's check of a store, and how a verification report is printed
(``jifen demo`` ends with the same lines)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from jifen.cli._options import DbOption
from jifen.cli._output import data, err, json_text, out, say
from jifen.cli.errors import CheckpointInvalid, CheckpointUnwritable
from jifen.ledger import Checkpoint, Report
from jifen.settlement import verify_books
from jifen.settlement.verifications import report_json
from jifen.store import make_engine, ping, require_existing

__all__ = ["print_report", "verify"]

MAX_CHECKPOINT_BYTES = 1_000_000
"""A checkpoint holds a line per lane: anything larger is not one."""


def verify(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="after a clean run, write a checkpoint here (each lane's verified height and "
            "block hash, the invariant's totals) for a later --resume 写入校验检查点",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            metavar="FILE",
            help="start from a checkpoint: hashes below it are not recomputed, the block at its "
            "height must still carry its hash; balances, lots, caps, the invariants and the "
            "statements are still checked whole 从检查点续校",
        ),
    ] = None,
) -> None:
    """Recompute every hash, re-derive every balance and lot, check the invariants 校验账本.

    Bounded memory: a scratch file in $TMPDIR holds the re-derived books (docs/ledger.md).
    """
    start = _read_checkpoint(resume) if resume is not None else None
    url = require_existing(db, what="ledger")  # opening a missing file would create it empty
    engine = make_engine(url)
    ping(engine)
    report = verify_books(engine, resume=start)  # the ledger's checks and the statements'
    engine.dispose()
    if as_json:
        print(json_text(report_json(report)))
    else:
        print_report(report)
    if checkpoint is not None:
        _write_checkpoint(checkpoint, report)
    if not report.ok:
        raise typer.Exit(1)


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CHECKPOINT_BYTES + 1)
        if len(raw) > MAX_CHECKPOINT_BYTES:
            raise ValueError("too large to be a checkpoint")
        return Checkpoint.parse(raw.decode("utf-8"))
    except OSError as exc:
        raise CheckpointInvalid(f"cannot read checkpoint {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointInvalid(f"{path} is not a usable checkpoint: {exc}") from exc


def _write_checkpoint(path: Path, report: Report) -> None:
    """Only a clean run is a checkpoint; written whole or not at all (a temporary file renamed)."""
    if not report.ok:
        say(err, ("检查点未写 no checkpoint", "yellow"), ": the books did not verify")
        return
    text = Checkpoint.of(report, datetime.now(UTC)).text()
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise CheckpointUnwritable(f"cannot write checkpoint {path}: {exc.strerror}") from exc
    say(err, ("检查点已写 checkpoint written", "green"), ": ", data(path))


def print_report(report: Report) -> None:
    """One line when the books check out; else the first finding and up to nine more."""
    if report.ok:
        t = report.totals
        resumed = (
            f" (resumed from a checkpoint: {report.checked_blocks:,} new blocks re-hashed)"
            if report.resumed
            else ""
        )
        say(
            out,
            ("✔ 校验通过 verified", "green"),
            " (",
            data(report.hash_alg),
            f"): {report.blocks:,} blocks, {report.entries:,} entries; issued {t['issued']:,} = "
            f"redeemed {t['redeemed']:,} + expired {t['expired']:,} + clawed back "
            f"{t['clawed_back']:,} + outstanding {t['outstanding']:,}{resumed}",
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
