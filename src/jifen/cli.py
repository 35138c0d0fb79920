"""The ``jifen`` command line. A thin shell: parse, call a service, print, exit.

Every refusal is one readable line ``error[code]: message`` on standard error and a non-zero
exit (2 for a refused request, 1 for a failed verification); never a stack trace.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jifen.demo import MERCHANTS, Summary, open_demo, run_demo
from jifen.errors import JifenError
from jifen.ledger import HASH_ALGORITHMS, Report, verify
from jifen.settlement import coverage_text
from jifen.store import DEFAULT_DB, StoreUnavailable, make_engine, normalize_url, ping

app = typer.Typer(
    help="Jifen 积分: a coalition loyalty ledger, exact and tamper-evident.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(soft_wrap=True)  # verification lines stay whole, for grep and logs
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help=f"SQLite path or PostgreSQL URL [env JIFEN_DB; default {DEFAULT_DB}]"
    ),
]


def _yuan(fen: int) -> str:
    """Exact yuan text for an amount in fen (integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


@app.command()
def demo(
    db: DbOption = None,
    members: Annotated[int, typer.Option(min=1, max=1_000_000, help="会员 members")] = 200,
    orders: Annotated[int, typer.Option(min=1, max=10_000_000, help="paid orders 订单")] = 2000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="simulated days 模拟天数")] = 120,
    seed: Annotated[int, typer.Option(help="same seed, same books")] = 7,
    hash_alg: Annotated[str, typer.Option("--hash", help="sha256 or sm3 (国密)")] = "sha256",
) -> None:
    """Build the demo alliance 演示联盟 on a fresh store and print its summary."""
    if hash_alg not in HASH_ALGORITHMS:
        raise typer.BadParameter(f"--hash must be one of {', '.join(HASH_ALGORITHMS)}")
    url = normalize_url(db)
    _fresh_store(url)
    ctx = open_demo(url, hash_alg=hash_alg)
    with Progress(
        TextColumn("模拟 simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("days", total=days)
        summary = run_demo(
            ctx,
            members=members,
            orders=orders,
            days=days,
            seed=seed,
            on_day=lambda _: progress.advance(task),
        )
    ctx.engine.dispose()
    _print_summary(summary, url)
    if summary.report is None or not summary.report.ok:
        raise typer.Exit(1)


class DemoStoreInUse(JifenError):
    code = "demo.store_in_use"
    status = 409


def _fresh_store(url: str) -> None:
    """The demo starts from nothing: a SQLite file is replaced; a used PostgreSQL store refused."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    engine = make_engine(url)
    ping(engine)
    from sqlalchemy import inspect

    used = inspect(engine).has_table("entries")
    engine.dispose()
    if used:
        raise DemoStoreInUse(
            "the demo needs an empty store; this PostgreSQL database already holds a ledger "
            "(演示需要空库)",
        )


def _print_summary(s: Summary, url: str) -> None:
    report, reserve = s.report, s.reserve
    assert report is not None and reserve is not None
    totals = report.totals
    table = Table(title=f"演示联盟 Demo alliance · seed {s.seed}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("商家 merchants", f"{len(MERCHANTS)} trades"),
        ("会员 members", f"{s.members:,}"),
        ("订单 paid orders", f"{s.orders:,} over {s.days} days"),
        ("规则版本 rule versions", f"{s.rule_versions} published"),
        ("拒绝的规则变更 refused change", s.refused_change or "—"),
        ("发放 points issued", f"{totals['issued']:,}"),
        ("待发放 pending", f"{totals['pending']:,}"),
        ("可用 available", f"{totals['available']:,}"),
        ("核销 redeemed", f"{totals['redeemed']:,} in {s.redemptions:,} redemptions"),
        ("退款扣回 clawed back", f"{totals['clawed_back']:,} after {s.refunds:,} refunds"),
        ("退款抵扣 shortfall deducted from cash refunds", f"{s.shortfall_points:,} points"),
        ("过期 expired", f"{totals['expired']:,}"),
        ("未兑付 outstanding", f"{totals['outstanding']:,} = {_yuan(reserve.liability_fen)}"),
        ("准备金 reserve", _yuan(reserve.reserve_fen)),
        ("准备金覆盖率 reserve coverage", coverage_text(reserve)),
        ("结算 settlement", f"{s.closed_days} business days, {s.statements:,} statements"),
        ("发行费 issue charges", _yuan(s.charges_fen)),
        ("兑付补偿 reimbursements", _yuan(s.reimbursements_fen)),
        ("区块 / 分录 blocks / entries", f"{report.blocks:,} / {report.entries:,}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    out.print(table)
    nets = Table(title="商家净结算 net settlement per merchant (+ paid to merchant, − owed)")
    nets.add_column("merchant")
    nets.add_column("net", justify="right")
    for merchant_id, net_fen in s.net_fen_by_merchant.items():
        nets.add_row(merchant_id, _yuan(net_fen))
    out.print(nets)
    _print_verify(report, url)


def _print_verify(report: Report, url: str) -> None:
    if report.ok:
        t = report.totals
        out.print(
            f"[green]✔ 校验通过 verified[/green] ({report.hash_alg}): {report.blocks:,} blocks, "
            f"{report.entries:,} entries; issued {t['issued']:,} = redeemed {t['redeemed']:,} + "
            f"expired {t['expired']:,} + clawed back {t['clawed_back']:,} + outstanding "
            f"{t['outstanding']:,}"
        )
        return
    first = report.findings[0]
    out.print(
        f"[red]✘ 校验失败 verification failed[/red] at {first.where() or 'the books'}: "
        + escape(f"[{first.code}] {first.message}")
    )
    for finding in report.findings[1:10]:
        out.print(escape(f"  also {finding.where() or '-'}: [{finding.code}] {finding.message}"))
    if len(report.findings) > 10:
        out.print(f"  … {len(report.findings) - 10} more")


@app.command("verify")
def verify_cmd(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Recompute every hash, re-derive every balance and lot, check the invariants 校验账本."""
    url = normalize_url(db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise StoreUnavailable(
            f"no ledger at {url.removeprefix('sqlite:///')} (run `jifen demo` first; 账本不存在)"
        )
    engine = make_engine(url)
    ping(engine)
    report = verify(engine)
    engine.dispose()
    if as_json:
        print(
            json.dumps(
                {
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
                },
                ensure_ascii=False,
            )
        )
    else:
        _print_verify(report, url)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
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
            json.dumps(
                {
                    "file": str(file),
                    "kind": report.kind,
                    "name": report.name,
                    "refused": report.refused,
                    "findings": [f.as_dict() for f in report.findings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _print_lint(file, report)
    if report.refused:
        raise typer.Exit(1)


class LintInputUnreadable(JifenError):
    code = "lint.unreadable"


def _print_lint(file: Path, report: Any) -> None:
    kind = "方案 scheme" if report.kind == "scheme" else "规则 rule document"
    if not report.findings:
        out.print(f"[green]✔ 合规检查通过 no findings[/green]: {escape(str(file))} ({kind})")
        return
    colour = {"block": "bold red", "error": "red", "warn": "yellow"}
    for f in report.findings:
        out.print(
            f"[{colour[f.severity.value]}]{f.severity.value.upper():5}[/] {f.id:6} "
            + escape(f"{f.path}: {f.detail}")
        )
        out.print(f"      {escape(f.explanation_zh)}")
        out.print(f"      {escape(f.explanation_en)}")
        out.print(f"      [dim]依据 basis: {escape(f.basis)}[/dim]")
    verdict = (
        "[red]✘ 拒绝 refused[/red]" if report.refused else "[yellow]⚠ 需确认 warnings[/yellow]"
    )
    counts = ", ".join(
        f"{sum(1 for f in report.findings if f.severity.value == s)} {s}"
        for s in ("block", "error", "warn")
    )
    out.print(f"{verdict}: {escape(str(file))} ({kind}): {counts}")


def _lab_app() -> typer.Typer:
    from jifen.lab.cli import lab_app

    return lab_app


app.add_typer(_lab_app(), name="lab")


jobs_app = typer.Typer(help="日终任务 daily jobs: releases, expiries, reminders, settlement.")
app.add_typer(jobs_app, name="jobs")


@jobs_app.command("run")
def jobs_run(
    db: DbOption = None,
    until: Annotated[
        str | None, typer.Option(help="close business days up to this date (YYYY-MM-DD)")
    ] = None,
) -> None:
    """Close every finished business day not yet closed (idempotent per day) 运行日终任务."""
    from datetime import date

    from jifen.alliance import open_alliance
    from jifen.jobs import run_jobs
    from jifen.settlement import reserve_status

    try:
        last = date.fromisoformat(until) if until else None
    except ValueError as exc:
        raise typer.BadParameter("--until must be YYYY-MM-DD") from exc
    ctx = open_alliance(_existing(db))
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
    status = reserve_status(ctx)
    ctx.engine.dispose()
    if not all(d.reserve_ok for d in days) or not status.covered:
        raise typer.Exit(1)


def _existing(db: str | None) -> str:
    url = normalize_url(db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise StoreUnavailable(
            f"no store at {url.removeprefix('sqlite:///')} (run `jifen demo` first; 账本不存在)"
        )
    return url


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    jobs_every: Annotated[
        float, typer.Option(help="seconds between scheduled job runs; 0 turns them off")
    ] = 60.0,
    simulated_clock: Annotated[
        str | None,
        typer.Option(
            help="demo/test only: start a settable clock at this ISO time (PUT /v1/clock)"
        ),
    ] = None,
) -> None:
    """Run the HTTP API 启动接口服务 (OpenAPI at /docs); jobs run on a schedule."""
    import os
    import secrets as pysecrets
    from datetime import datetime

    import uvicorn

    from jifen.alliance import SimulatedClock, open_alliance
    from jifen.alliance.merchants import add_operator_key
    from jifen.api import create_app
    from jifen.jobs.scheduler import Scheduler

    clock = None
    if simulated_clock:
        try:
            start = datetime.fromisoformat(simulated_clock)
        except ValueError as exc:
            raise typer.BadParameter("--simulated-clock must be an ISO time with a zone") from exc
        if start.tzinfo is None:
            raise typer.BadParameter("--simulated-clock must carry a time zone")
        clock = SimulatedClock(start)
    ctx = open_alliance(db, clock=clock)
    key = os.environ.get("JIFEN_OPERATOR_KEY")
    if not key:
        key = "jfo_" + pysecrets.token_urlsafe(32)
        err.print(f"运营方密钥 operator key (shown once; set JIFEN_OPERATOR_KEY to choose): {key}")
    add_operator_key(ctx, key, ctx.clock.now())
    scheduler = Scheduler(ctx, jobs_every) if jobs_every > 0 else None
    if scheduler:
        scheduler.start()
    try:
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="warning")
    finally:
        if scheduler:
            scheduler.stop()
        ctx.engine.dispose()


def main() -> None:
    """Console entry point: turns refusals into one line and an exit code."""
    try:
        app()
    except JifenError as exc:
        print(f"error[{exc.code}]: {exc.message}", file=sys.stderr)
        sys.exit(2)
