"""``jifen demo``: build the demo alliance on a fresh store, print its summary, verify it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jifen.app import Context
from jifen.app.clock import SHANGHAI
from jifen.cli._options import DbOption
from jifen.cli._output import data, err, out, say, yuan
from jifen.cli._stores import ensure_database, replace_store, store_in_use
from jifen.cli.errors import DemoStoreInUse
from jifen.cli.verify import print_report
from jifen.demo import (
    DEMO_SECRET,
    MERCHANTS,
    Payer,
    Summary,
    Timeline,
    open_demo,
    run_demo,
    timeline,
)
from jifen.ledger import HASH_ALGORITHMS
from jifen.settlement import coverage_text
from jifen.store import normalize_url, sqlite_path

__all__ = ["demo"]


def demo(
    db: DbOption = None,
    members: Annotated[
        int,
        typer.Option(
            min=1,
            max=1_000_000,
            envvar="JIFEN_DEMO_MEMBERS",
            help="会员 members",
        ),
    ] = 200,
    orders: Annotated[
        int,
        typer.Option(
            min=1,
            max=10_000_000,
            envvar="JIFEN_DEMO_ORDERS",
            help="paid orders 订单",
        ),
    ] = 2000,
    days: Annotated[
        int,
        typer.Option(
            min=1,
            max=3650,
            envvar="JIFEN_DEMO_DAYS",
            help="simulated days 模拟天数, ending today",
        ),
    ] = 120,
    seed: Annotated[int, typer.Option(help="same seed, same books")] = 7,
    hash_alg: Annotated[str, typer.Option("--hash", help="sha256 or sm3 (国密)")] = "sha256",
    cash: Annotated[
        bool,
        typer.Option(
            "--cash/--provider",
            help="--cash: merchants record orders paid in cash; --provider (the default): "
            "orders are paid through the sandbox payment provider",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="replace the store at --db if it holds one 覆盖")
    ] = False,
) -> None:
    """Build the demo alliance 演示联盟 on a fresh store and print its summary.

    Its simulated days end today; the store then runs on the real clock, so `jifen serve` on it
    carries on from here."""
    if hash_alg not in HASH_ALGORITHMS:
        raise typer.BadParameter(f"--hash must be one of {', '.join(HASH_ALGORITHMS)}")
    url = normalize_url(db)
    _fresh_store(url, force)
    when = timeline(datetime.now(UTC), days)
    ctx = open_demo(url, when, hash_alg=hash_alg)
    with (
        _provider(ctx, url, cash, when) as payer,
        Progress(
            TextColumn("模拟 simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("days", total=days)
        summary = run_demo(
            ctx,
            when,
            members=members,
            orders=orders,
            seed=seed,
            on_day=lambda _: progress.advance(task),
            payer=payer,
            real_now=lambda: datetime.now(UTC),
        )
    ctx.engine.dispose()
    _print_summary(summary)
    _print_clock(when, url)
    if summary.report is None or not summary.report.ok:
        raise typer.Exit(1)


@contextmanager
def _provider(ctx: Context, url: str, cash: bool, when: Timeline) -> Iterator[Payer | None]:
    """The sandbox provider for the demo: its state beside a SQLite store (``jifen.db.sandbox``,
    replaced like the store), in a temporary directory for PostgreSQL."""
    if cash:
        yield None
        return
    from jifen.cli._demo_provider import sandbox_payer

    path = sqlite_path(url)
    with tempfile.TemporaryDirectory(prefix="jifen-sandbox-") as scratch:
        state = Path(f"{path}.sandbox") if path is not None else Path(scratch)
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True, exist_ok=True)
        with sandbox_payer(ctx, state, when.start) as payer:
            yield payer


def _fresh_store(url: str, force: bool) -> None:
    """The demo starts from nothing: a store in use is refused, or with ``--force`` replaced;
    a PostgreSQL database that does not exist is created if the server lets us."""
    if ensure_database(url):
        say(err, f"已创建数据库 created the database {_url_text(url)}")
    used = store_in_use(url)
    if used and not force:
        raise DemoStoreInUse(
            f"the demo needs an empty store; {used} (演示需要空库; --force replaces it)"
        )
    if used:
        replace_store(url)


def _url_text(url: str) -> str:
    """A store's URL as it may be printed: without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _print_clock(when: Timeline, url: str) -> None:
    """How the store goes on: the real clock, and where ``jifen serve`` finds its secret."""
    path = sqlite_path(url)
    secret = (
        f"{path}.secret, beside the store (`jifen serve` reads it)"
        if path is not None
        else f"set JIFEN_SECRET={DEMO_SECRET} to serve it"
    )
    say(err, ("密钥 secret", "bold"), f": the demo's public secret; {secret}")
    say(
        err,
        ("时钟 clock", "bold"),
        f": the demo's {when.days} simulated days ended at "
        f"{when.ends.astimezone(SHANGHAI).isoformat()}; the store "
        "now runs on the real clock (`jifen serve` carries on from here)",
    )


def _money_rows(s: Summary) -> list[tuple[str, str]]:
    if not s.provider:
        return [("支付 payments", "现金 in cash (no provider)")]
    return [
        ("支付机构 payment provider", f"{s.provider} (sandbox)"),
        ("分账收取发行费 collected by split", yuan(s.collected_fen)),
        ("分账回退 returned before refunds", yuan(s.returned_fen)),
        ("准备金付款 paid out from the reserve", yuan(s.paid_out_fen)),
        (
            "对账 reconciled",
            f"{s.reconciled_days} days, {s.reconciled_records:,} records, "
            f"{s.reconciliation_breaks} breaks",
        ),
    ]


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
        ("未兑付 outstanding", f"{totals['outstanding']:,} = {yuan(reserve.liability_fen)}"),
        ("准备金 reserve", yuan(reserve.reserve_fen)),
        ("准备金覆盖率 reserve coverage", coverage_text(reserve)),
        ("结算 settlement", f"{s.closed_days} business days, {s.statements:,} statements"),
        ("发行费 issue charges", yuan(s.charges_fen)),
        ("兑付补偿 reimbursements", yuan(s.reimbursements_fen)),
        *_money_rows(s),
        ("区块 / 分录 blocks / entries", f"{report.blocks:,} / {report.entries:,}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    out.print(table)
    nets = Table(title="商家净结算 net settlement per merchant (+ paid to merchant, − owed)")
    nets.add_column("merchant")
    nets.add_column("net", justify="right")
    for merchant_id, net_fen in s.net_fen_by_merchant.items():
        nets.add_row(data(merchant_id), yuan(net_fen))
    out.print(nets)
    print_report(report)
