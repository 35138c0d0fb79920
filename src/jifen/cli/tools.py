"""Operator tools on the command line (docs/operator-tools.md): ``jifen import``, ``jifen
export``, ``jifen members lookup``. They open the store directly, as ``jifen jobs run`` does:
whoever can run them holds the store's credentials, so they act as the operator."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jifen.cli._options import DbOption
from jifen.cli._output import data, err, json_text, out, say
from jifen.store import require_existing

if TYPE_CHECKING:
    from jifen.alliance.imports import ImportReport
    from jifen.app import Context

__all__ = ["export_app", "import_app", "members_app"]

import_app = typer.Typer(help="批量导入 bulk import of merchants or members from CSV.")
export_app = typer.Typer(help="导出 statements or orders as CSV.")
members_app = typer.Typer(help="会员 members: the audited lookup.")

DryRun = Annotated[
    bool, typer.Option("--dry-run", help="check every row and write nothing 只校验不写入")
]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable report")]
CsvFile = Annotated[Path, typer.Argument(metavar="FILE.csv", help="UTF-8 CSV, header first")]
MAX_FILE_BYTES = 50 << 20
"""The CLI reads at most this much (the API takes 1 MiB a request); rows stay at most 10,000."""


def _open(db: str | None) -> Context:
    from jifen.app import open_alliance

    return open_alliance(require_existing(db))


def _read(path: Path) -> bytes:
    from jifen.errors import InvalidRequest

    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidRequest(
            f"无法读取 / cannot read {path}: {exc.strerror}", field="FILE"
        ) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidRequest(f"文件过大 / {path} is over 50 MiB: split it", field="FILE")
    return raw


def _report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        print(json_text({**report.__dict__,
                         "results": [r.__dict__ for r in report.results],
                         "errors": [e.__dict__ for e in report.errors]}))  # fmt: skip
    else:
        for e in report.errors:
            say(
                err,
                (f"row {e.row}", "red"),
                f" {e.column or '-'} ",
                data(f"[{e.code}] {e.message}"),
            )
        mode = (
            "dry run, nothing written" if report.dry_run
            else f"{report.new} written" if report.written and report.new
            else "nothing new, nothing written" if report.written
            else ""
        )  # fmt: skip
        say(out, f"{report.kind}: {report.rows} rows, {report.new} new, {report.unchanged} "
                 f"unchanged, {len(report.errors)} errors ({mode})")  # fmt: skip
    if report.errors:
        raise typer.Exit(1)


def _import(kind: str, path: Path, dry_run: bool, as_json: bool, db: str | None) -> None:
    from jifen.alliance import imports
    from jifen.alliance.errors import ImportRefused

    data_ = _read(path)
    ctx = _open(db)
    run = imports.import_merchants if kind == "merchants" else imports.import_members
    try:
        report = run(ctx, data_, dry_run=dry_run, now=ctx.clock.now())
    except ImportRefused:  # the same checks as a dry run, to list every error
        report = run(ctx, data_, dry_run=True, now=ctx.clock.now())
        say(err, ("未写入 nothing imported", "red"), ": the file has errors")
    finally:
        ctx.engine.dispose()
    _report(report, as_json)


@import_app.command("merchants")
def import_merchants(
    path: CsvFile, dry_run: DryRun = False, as_json: AsJson = False, db: DbOption = None
) -> None:
    """Onboard merchants from CSV: all rows or none; re-running reports them unchanged 导入商家."""
    _import("merchants", path, dry_run, as_json, db)


@import_app.command("members")
def import_members(
    path: CsvFile, dry_run: DryRun = False, as_json: AsJson = False, db: DbOption = None
) -> None:
    """Enrol members (phone, consents) from CSV: all rows or none 导入会员."""
    _import("members", path, dry_run, as_json, db)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{option} must be YYYY-MM-DD") from exc


def _export(kind: str, first: str, last: str, merchant: str | None, db: str | None,
            to: Path | None) -> None:  # fmt: skip
    from jifen.settlement import exports

    ctx = _open(db)
    make = exports.statements_csv if kind == "statements" else exports.orders_csv
    try:
        lines = make(ctx, merchant, _day(first, "--from"), _day(last, "--to"))
        target = to.open("w", encoding="utf-8", newline="") if to else sys.stdout
        try:
            for chunk in lines:
                target.write(chunk)
        except BrokenPipeError:  # `| head`: the reader has what it wanted; say nothing more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        finally:
            if to:
                target.close()
    finally:
        ctx.engine.dispose()


From = Annotated[str, typer.Option("--from", help="first business day, YYYY-MM-DD")]
To = Annotated[str, typer.Option("--to", help="last business day (included), YYYY-MM-DD")]
Merchant = Annotated[str | None, typer.Option("--merchant", help="one merchant (default: all)")]
Out = Annotated[Path | None, typer.Option("--out", help="write here (default: standard output)")]


@export_app.command("statements")
def export_statements(
    first: From, last: To, merchant: Merchant = None, to: Out = None, db: DbOption = None
) -> None:
    """Daily statements as CSV, streamed 导出结算单."""
    _export("statements", first, last, merchant, db, to)


@export_app.command("orders")
def export_orders(
    first: From, last: To, merchant: Merchant = None, to: Out = None, db: DbOption = None
) -> None:
    """Orders that earned points, with their points' state now, as CSV, streamed 导出订单."""
    _export("orders", first, last, merchant, db, to)


@members_app.command("lookup")
def lookup(
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit record)")],
    member_id: Annotated[str | None, typer.Option("--id", help="the member id")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="the phone number")] = None,
    db: DbOption = None,
) -> None:
    """Find a member by id or phone; every lookup is an audit record 查询会员."""
    from jifen.alliance.lookup import lookup_member

    ctx = _open(db)
    try:
        found = lookup_member(
            ctx, actor=f"cli:{getpass.getuser()}", reason=reason, now=ctx.clock.now(),
            member_id=member_id, phone=phone,
        )  # fmt: skip
    finally:
        ctx.engine.dispose()
    say(err, "audit record ", data(found.record.record_id))
    if found.member is None:
        say(out, ("未找到 not found", "yellow"), ": ", data(found.record.query))
        raise typer.Exit(1)
    m = found.member
    print(json_text({"member_id": m.member_id, "phone_masked": m.phone_masked,
                     "created_at": m.created_at.isoformat(), "consents": m.consents}))  # fmt: skip
