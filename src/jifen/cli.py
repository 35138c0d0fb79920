"""The ``jifen`` command line. A thin shell: parse, call a service, print, exit.

Every refusal is one readable line ``error[code]: message`` on standard error and a non-zero
exit (2 for a refused request, 1 for a failed verification); never a stack trace.

Whatever comes from a store or a file (account and merchant names, finding messages) is printed
as plain text: never read as Rich markup or ``:emoji:`` codes, and with control characters shown
as escapes (``\\x1b``), so stored data cannot restyle, hide or forge what an operator reads.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from jifen.app import Context, SimulatedClock
from jifen.demo import MERCHANTS, Summary, open_demo, run_demo
from jifen.errors import JifenError
from jifen.ledger import HASH_ALGORITHMS, Report
from jifen.settlement import coverage_text, verify_books
from jifen.store import DEFAULT_DB, StoreUnavailable, make_engine, normalize_url, ping

app = typer.Typer(
    help="Jifen 积分: a coalition loyalty ledger, exact and tamper-evident.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# verification lines stay whole, for grep and logs; no emoji codes or highlighting anywhere
out = Console(soft_wrap=True, emoji=False, highlight=False)
err = Console(stderr=True, emoji=False, highlight=False)
_VISIBLE_ESCAPE = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # control, format (bidi, zero-width), separators


def plain(text: object) -> str:
    """``text`` with every control, format and line-separator character replaced by its visible
    escape (``\\x1b``, ``\\n``, ``\\u202e``): one line, exactly what is stored, nothing hidden."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in _VISIBLE_ESCAPE
        else ch
        for ch in value
    )


def data(text: object, style: str = "") -> Text:
    """Stored or read data as a Rich ``Text``: printed literally (no markup, no emoji codes)."""
    return Text(plain(text), style=style)


def say(console: Console, *parts: str | Text | tuple[str, str]) -> None:
    """Print one line of parts: ``str`` parts are our own text (literal, never markup), ``Text``
    parts come from ``data()``, ``(text, style)`` pairs are styled labels. Never wrapped."""
    console.print(Text.assemble(*parts), markup=False, emoji=False, highlight=False, soft_wrap=True)


def _json_text(value: object, *, indent: int | None = None) -> str:
    """JSON for a terminal: like ``ensure_ascii=False`` (which already escapes C0 controls), but
    DEL, C1 controls, format and line separators are written as ``\\uXXXX`` too: the same JSON
    value, nothing hidden. (Raw C0 characters left in the text are JSON's own whitespace.)"""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return "".join(
        json.dumps(ch)[1:-1] if ch >= "\x7f" and unicodedata.category(ch) in _VISIBLE_ESCAPE else ch
        for ch in text
    )


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
    _print_summary(summary)
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


def _print_summary(s: Summary) -> None:
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
        nets.add_row(data(merchant_id), _yuan(net_fen))
    out.print(nets)
    _print_verify(report)


def _print_verify(report: Report) -> None:
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
    report = verify_books(engine)  # the ledger's checks and the statements'
    engine.dispose()
    if as_json:
        print(
            _json_text(
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
                }
            )
        )
    else:
        _print_verify(report)
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
            _json_text(
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


class LintInputUnreadable(JifenError):
    code = "lint.unreadable"


def _print_lint(file: Path, report: Any) -> None:
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

    from jifen.app import open_alliance
    from jifen.jobs import run_jobs
    from jifen.settlement import reserve_status

    try:
        last = date.fromisoformat(until) if until else None
    except ValueError as exc:
        raise typer.BadParameter("--until must be YYYY-MM-DD") from exc
    ctx = open_alliance(_existing(db))  # the store's own clock, simulated or real
    _announce_clock(ctx)
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


def _announce_clock(ctx: Context, asked: datetime | None = None) -> None:
    """Say so when a command runs on the store's simulated clock rather than real time."""
    if not isinstance(ctx.clock, SimulatedClock):
        return
    now = ctx.clock.now()
    resumed = (
        f" (resumed at the store's time, not {asked.isoformat()}: it never goes back)"
        if asked is not None and asked.astimezone(now.tzinfo) != now
        else ""
    )
    say(
        err,
        ("模拟时钟 simulated clock", "yellow"),
        f": this store runs on a simulated clock, now {now.isoformat()}{resumed}",
    )


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

    import uvicorn

    from jifen.alliance.merchants import add_operator_key
    from jifen.api import create_app
    from jifen.api.observability import configure_logging
    from jifen.app import open_alliance
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
    # a fresh store becomes simulated; a simulated one keeps its clock even without the flag
    ctx = open_alliance(db, clock=clock)  # a refusal (wrong secret, clock) is one plain line
    configure_logging()  # from here on, JSON lines on stderr (docs/operations.md)
    _announce_clock(ctx, clock.now() if clock else None)
    key = os.environ.get("JIFEN_OPERATOR_KEY")
    if not key:
        key = "jfo_" + pysecrets.token_urlsafe(32)
        err.print(f"运营方密钥 operator key (shown once; set JIFEN_OPERATOR_KEY to choose): {key}")
    add_operator_key(ctx, key, ctx.clock.now())
    api = create_app(ctx)
    scheduler = Scheduler(ctx, jobs_every) if jobs_every > 0 else None
    if scheduler:
        scheduler.observers.append(api.state.metrics.job_run)
        scheduler.start()
    try:
        # log_config=None: uvicorn keeps the JSON logging above; its access log is off, as it
        # would print query strings (each request is logged by the app, without them)
        uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)
    finally:
        if scheduler:
            scheduler.stop()
        ctx.engine.dispose()


def main() -> None:
    """Console entry point: turns refusals into one line and an exit code."""
    try:
        app()
    except JifenError as exc:
        print(f"error[{exc.code}]: {plain(exc.message)}", file=sys.stderr)
        sys.exit(2)
