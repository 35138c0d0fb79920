"""``jifen lab appreciation``: replay the consumption-appreciation pitch (schemes.md §A), or run
it with a realistic population, and write the report.

A thin shell: parse options into :class:`AppreciationParams` / :class:`PopulationParams`, call
:func:`replay` or :func:`simulate`, write the report, print a table for a person or the summary
JSON for a program. Progress goes to stderr so ``--json`` output stays clean. A malformed option
is a usage error (typer); parameters the scheme cannot run with raise
:class:`~jifen.lab.errors.InvalidParameter`, which ``jifen.cli.main`` prints as one
``error[lab.invalid_parameter]: …`` line (exit 2). :mod:`jifen.lab.cli` registers the command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jifen.lab._cli_options import JsonFlag, write_and_print_json, yuan_to_fen
from jifen.lab._result import LabResult
from jifen.lab.appreciation import (
    MAX_REPLAY_ORDERS,
    AppreciationParams,
    PopulationParams,
    replay,
    simulate,
)

_P = AppreciationParams()
_POP = PopulationParams()
HUMAN_ROWS_ALL = 50  # up to this many orders, the human table shows every one
HUMAN_HEAD, HUMAN_TAIL = 20, 10


def _financing(items: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """``DAY:YUAN`` pairs, e.g. ``--financing 300:5000000``."""
    pairs = []
    for item in items:
        day, sep, yuan = item.partition(":")
        if not (sep and day.strip().isdigit() and yuan.strip().isdigit()):
            raise typer.BadParameter(f"--financing takes DAY:YUAN (whole yuan), got {item!r}")
        pairs.append((int(day), int(yuan)))
    return tuple(pairs)


def _replay_table(result: LabResult) -> Table:
    rows = list(result.table)
    table = Table(title="消费增值 replay: 每笔订单后的价格 price after each order")
    for header in ("订单 order", "价格 ¥ price", "池子 ¥ pool", "流通积分 points", "出局 exits"):
        table.add_column(header, justify="right")
    shown: list[Mapping[str, Any] | None] = (
        list(rows)
        if len(rows) <= HUMAN_ROWS_ALL
        else [*rows[:HUMAN_HEAD], None, *rows[-HUMAN_TAIL:]]
    )
    for row in shown:
        if row is None:
            table.add_row("…", "…", "…", "…", "…")
            continue
        exits = row["exited_members"]
        table.add_row(
            f"{row['order']:,}",
            row["price_yuan"],
            row["pool_yuan"],
            row["circulation"],
            f"member {exits}" if exits else "",
            style="red" if exits else None,
        )
    return table


def _population_table(summary: Mapping[str, Any]) -> Table:
    totals, late = summary["totals"], summary["last_cohorts"]
    reached = summary["reached_exit"]
    table = Table(title="消费增值 population: 主要发现 key findings", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    rows = (
        ("会员 members / 订单 orders", f"{summary['members']:,} / {summary['orders']:,}"),
        (
            f"达到 {summary['exit_multiple']}× 出局 reached the exit",
            f"{reached['members']:,} ({reached['share']})",
        ),
        ("消费 spent ¥", totals["spent_yuan"]),
        ("兑付 paid out ¥", f"{totals['paid_out_yuan']} ({totals['paid_out_over_spent']})"),
        (
            "其中来自他人 from other members' money ¥ (at least)",
            f"{summary['paid_out_from_other_members']['yuan']} "
            f"({summary['paid_out_from_other_members']['share']})",
        ),
        (
            "其中来自更晚入会者 from later cohorts' orders ¥",
            f"{summary['paid_out_from_later_cohorts']['yuan']} "
            f"({summary['paid_out_from_later_cohorts']['share']})",
        ),
        (
            "平台 platform ¥ / 推荐 referral ¥",
            f"{totals['platform_yuan']} / {totals['referral_yuan']}",
        ),
        ("期末池子 pool at end ¥", totals["pool_end_yuan"]),
        ("期末价格 final price ¥", totals["final_price_yuan"]),
        (
            f"最后入会 last cohorts {late['cohorts']}: 回报 return",
            f"{late['return_ratio']} ({late['members']:,} members, {late['reached_exit']} exited)",
        ),
        ("最后入会 纸面价值 their value on paper ¥", late["value_on_paper_yuan"]),
    )
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def appreciation(
    replay_mode: Annotated[
        bool,
        typer.Option(
            "--replay/--population",
            help="复现推销案例 replay the pitch, or 模拟人群 simulate a population",
        ),
    ] = True,
    orders: Annotated[
        int, typer.Option(min=0, max=MAX_REPLAY_ORDERS, help="复现订单数 replay: orders")
    ] = 1200,
    order_amount: Annotated[
        int, typer.Option(min=1, help="复现每单金额（元）replay: yuan per order")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="随机种子 random seed (population)")] = 1,
    days: Annotated[int, typer.Option(min=1, help="模拟天数 days to simulate")] = _POP.days,
    members: Annotated[
        int, typer.Option(min=1, help="会员总数 members who join in all")
    ] = _POP.members,
    commission_bp: Annotated[
        int, typer.Option(help="商户佣金（基点）merchant commission, bp of the order")
    ] = _P.commission_bp,
    platform_bp: Annotated[
        int, typer.Option(help="平台利润（基点）platform profit, bp of the order")
    ] = _P.platform_bp,
    referral_bp: Annotated[
        int, typer.Option(help="推荐佣金（基点）referral commissions, bp of the order")
    ] = _P.referral_bp,
    pool_bp: Annotated[
        int, typer.Option(help="进入盈利池（基点）into the profit pool, bp of the order")
    ] = _P.pool_bp,
    mint_bp: Annotated[
        int, typer.Option(help="发放积分（池子流入的基点）points minted, bp of pool inflow")
    ] = _P.mint_bp,
    sell_payout_bp: Annotated[
        int, typer.Option(help="卖出到手（基点）sell payout, bp of points × price")
    ] = _P.sell_payout_bp,
    exit_multiple_bp: Annotated[
        int, typer.Option(help="封顶出局倍数（基点，12000 = 1.2×）exit multiple k, bp")
    ] = _P.exit_multiple_bp,
    initial_price: Annotated[
        str, typer.Option(help="初始积分价格（元）initial point price, yuan")
    ] = f"{_P.initial_price_fen // 100}.{_P.initial_price_fen % 100:02d}",
    growth_midpoint_day: Annotated[
        int, typer.Option(help="增长中点（天）logistic growth midpoint day; growth stops at 2×")
    ] = _POP.growth_midpoint_day,
    growth_steepness: Annotated[
        float, typer.Option(help="增长陡度（每天）logistic steepness per day")
    ] = _POP.growth_steepness,
    mean_days_between_purchases: Annotated[
        float, typer.Option(help="平均购买间隔（天）mean days between a member's purchases")
    ] = _POP.mean_days_between_purchases,
    plateau_purchase_rate_bp: Annotated[
        int,
        typer.Option(help="停止增长后购买频率（基点，10000 = 不变）purchase rate after growth, bp"),
    ] = _POP.plateau_purchase_rate_bp,
    amount_median: Annotated[
        int, typer.Option(help="订单金额中位数（元）median order, yuan (lognormal)")
    ] = _POP.amount_median_yuan,
    amount_sigma: Annotated[
        float, typer.Option(help="订单金额对数标准差 lognormal sigma of order amounts")
    ] = _POP.amount_sigma,
    sellers_bp: Annotated[
        int, typer.Option(help="会卖出的会员占比（基点）share of members who sell, bp")
    ] = _POP.sellers_bp,
    sell_margin_bp: Annotated[
        int, typer.Option(help="卖出门槛（基点）sellers sell when value ≥ (1 + margin) × spend")
    ] = _POP.sell_margin_bp,
    reinvest_bp: Annotated[
        int, typer.Option(help="出局后复投概率（基点）chance of re-investing after an exit, bp")
    ] = _POP.reinvest_bp,
    financing: Annotated[
        list[str] | None,
        typer.Option(help="融资注入 DAY:YUAN financing injection (repeatable)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="报告目录 report directory")] = Path(
        "lab-out/appreciation"
    ),
    as_json: JsonFlag = False,
) -> None:
    """消费增值模拟 consumption-appreciation points: replay the pitch or simulate a population."""
    params = AppreciationParams(
        commission_bp=commission_bp,
        platform_bp=platform_bp,
        referral_bp=referral_bp,
        pool_bp=pool_bp,
        mint_bp=mint_bp,
        sell_payout_bp=sell_payout_bp,
        exit_multiple_bp=exit_multiple_bp,
        initial_price_fen=yuan_to_fen(initial_price, "--initial-price"),
    )
    if replay_mode:
        result = replay(params, orders=orders, order_amount=order_amount)
    else:
        population = PopulationParams(
            members=members,
            days=days,
            growth_midpoint_day=growth_midpoint_day,
            growth_steepness=growth_steepness,
            mean_days_between_purchases=mean_days_between_purchases,
            plateau_purchase_rate_bp=plateau_purchase_rate_bp,
            amount_median_yuan=amount_median,
            amount_sigma=amount_sigma,
            sellers_bp=sellers_bp,
            sell_margin_bp=sell_margin_bp,
            reinvest_bp=reinvest_bp,
            financing=_financing(financing or []),
        )
        result = _simulate(params, population, seed)
    html_path = write_and_print_json(result, out, as_json)
    if as_json:
        return
    console = Console()
    if replay_mode:
        _print_replay(console, result, orders)
    else:
        console.print(_population_table(result.summary))
    console.print(result.explanation_zh)
    console.print(result.explanation_en)
    console.print(f"报告 report: {html_path}")


def _simulate(params: AppreciationParams, population: PopulationParams, seed: int) -> LabResult:
    """A population run with a progress bar on standard error (gone when it is done)."""
    with Progress(
        TextColumn("模拟 simulating"),
        BarColumn(),
        TextColumn("day {task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("days", total=population.days)
        return simulate(
            params,
            population,
            seed,
            on_progress=lambda day, _: progress.update(task, completed=day),
        )


def _print_replay(console: Console, result: LabResult, orders: int) -> None:
    summary = result.summary
    console.print(_replay_table(result))
    first = summary["first_forced_exit"]
    if first is None:
        console.print(
            f"{orders:,} 笔订单内无人出局 nobody reaches the {summary['exit_multiple']}× "
            f"exit within {orders:,} orders"
        )
    else:
        console.print(
            f"首次强制出局 first forced exit: order {first['order']:,}, member "
            f"{first['member']:,}, sold at ¥{first['price_yuan']}, paid ¥"
            f"{first['payout_yuan']} ({first['payout_over_spend']}× spend)"
        )
