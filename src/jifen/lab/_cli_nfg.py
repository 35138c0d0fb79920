"""``jifen lab nfg``: replay the NFG synthesis pitch (schemes.md §B) and write its report.

A thin shell: parse options into :class:`NfgParams`, call :func:`replay_cycles`, write the report,
print either a table for a person or the summary JSON for a program. Refusals as in
``_cli_appreciation``; :mod:`jifen.lab.cli` registers the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from jifen.lab._cli_options import JsonFlag, write_and_print_json, yuan_to_fen
from jifen.lab._result import LabResult
from jifen.lab.nfg import MAX_CYCLES, NfgParams, replay_cycles

_DEFAULTS = NfgParams()

_COLUMNS = (
    ("cycle", "周期\ncycle"),
    ("tokens", "通证\ntokens"),
    ("tokens_for_sale", "待售\nfor sale"),
    ("newcomers_needed", "需新人\nnewcomers"),
    ("participants", "累计人数\npeople"),
    ("price_yuan", "价格 ¥\nprice"),
    ("money_in_yuan", "新人资金 ¥\nmoney in"),
)


def _grouped(value: object) -> str:
    """Thousands separators for the human table, and whole yuan without '.00', so it fits 80
    columns; the exact figures are in summary.json and report.html."""
    if isinstance(value, int):
        return f"{value:,}"
    whole, _, fen = str(value).partition(".")
    return f"{int(whole):,}" + ("" if fen.strip("0") == "" else f".{fen}")


def nfg(
    cycles: Annotated[
        int, typer.Option(min=0, max=MAX_CYCLES, help="合成周期数 synthesis cycles to replay")
    ] = 40,
    first_issue_tokens: Annotated[
        int, typer.Option(min=1, help="首发数量 tokens in the first issue")
    ] = _DEFAULTS.first_issue_tokens,
    issue_price: Annotated[
        str, typer.Option(help="首发价格（元）issue price per token, yuan")
    ] = f"{_DEFAULTS.issue_price_fen // 100}.{_DEFAULTS.issue_price_fen % 100:02d}",
    tokens_per_synthesis: Annotated[
        int, typer.Option(min=1, help="合成所需持币 held tokens a synthesis needs")
    ] = _DEFAULTS.tokens_per_synthesis,
    balance_per_synthesis: Annotated[
        int, typer.Option(min=0, help="合成消耗的平台余额 platform balance units per synthesis")
    ] = _DEFAULTS.balance_units_per_synthesis,
    tokens_after_synthesis: Annotated[
        int, typer.Option(min=1, help="合成后持币 tokens after a synthesis (5 → 6)")
    ] = _DEFAULTS.tokens_after_synthesis,
    cycle_days: Annotated[
        int, typer.Option(min=1, help="合成周期（天）days per cycle")
    ] = _DEFAULTS.cycle_days,
    tokens_kept: Annotated[
        int, typer.Option(min=1, help="持有人保留 tokens holders keep (they sell the rest)")
    ] = _DEFAULTS.tokens_kept,
    entry_tokens: Annotated[
        int, typer.Option(min=1, help="新人须买入 tokens a newcomer must buy")
    ] = _DEFAULTS.entry_tokens,
    price_cap_multiple: Annotated[
        int, typer.Option(min=1, help="强制交割倍数 forced delivery at this × issue price")
    ] = _DEFAULTS.price_cap_multiple,
    fee_bp: Annotated[
        int, typer.Option(min=0, max=9_999, help="交易手续费（基点）exchange fee, basis points")
    ] = _DEFAULTS.fee_bp,
    price_growth_bp: Annotated[
        int,
        typer.Option(
            min=0, max=1_000_000, help="每周期涨价（基点）price rise per cycle, basis points"
        ),
    ] = _DEFAULTS.price_growth_bp_per_cycle,
    market_people: Annotated[
        int, typer.Option(min=1, help="市场规模（人）everyone who could ever join")
    ] = _DEFAULTS.market_people,
    market_money: Annotated[
        str | None, typer.Option(help="市场资金上限（元）all the money they could bring, yuan")
    ] = None,
    out: Annotated[Path, typer.Option(help="报告目录 report directory")] = Path("lab-out/nfg"),
    as_json: JsonFlag = False,
) -> None:
    """NFG 合成模拟 replay the NFG synthesis pitch: newcomers and money each cycle needs."""
    params = NfgParams(
        first_issue_tokens=first_issue_tokens,
        issue_price_fen=yuan_to_fen(issue_price, "--issue-price", zero_ok=True),
        tokens_per_synthesis=tokens_per_synthesis,
        balance_units_per_synthesis=balance_per_synthesis,
        tokens_after_synthesis=tokens_after_synthesis,
        cycle_days=cycle_days,
        tokens_kept=tokens_kept,
        entry_tokens=entry_tokens,
        price_cap_multiple=price_cap_multiple,
        fee_bp=fee_bp,
        price_growth_bp_per_cycle=price_growth_bp,
        market_people=market_people,
        market_money_fen=None
        if market_money is None
        else yuan_to_fen(market_money, "--market-money", zero_ok=True),
    )
    result = replay_cycles(params, cycles)
    html_path = write_and_print_json(result, out, as_json)
    if as_json:
        return
    _print_cycles(result, cycles, cycle_days, html_path)


def _print_cycles(result: LabResult, cycles: int, cycle_days: int, html_path: Path) -> None:
    """The per-cycle table (exhausted cycles in red) and the findings, for a person."""
    console = Console()
    table = Table(
        title=f"NFG 合成 synthesis: per cycle 逐周期 (1 cycle = {cycle_days} days)",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for _, header in _COLUMNS:
        table.add_column(header, justify="right", overflow="fold")
    for row in result.table:
        style = "red" if row["market_exhausted"] else None
        table.add_row(*(_grouped(row[key]) for key, _ in _COLUMNS), style=style)
    console.print(table)
    summary = result.summary
    exhausted = summary["market_exhausted_at_cycle"]
    console.print(
        f"每周期增长 growth per cycle: ×{summary['growth_factor_per_cycle']}; "
        f"翻倍 doubling: {summary['doubling_time_days']} days"
    )
    console.print(
        "市场耗尽 market exhausted: "
        + (
            f"cycle {exhausted} (day {summary['market_exhausted_on_day']}, "
            f"by {summary['market_exhausted_by']})"
            if exhausted is not None
            else f"not within {cycles} cycles"
        )
    )
    console.print(f"累计资金 total money in: ¥{_grouped(summary['total_money_in_yuan'])}")
    capped = summary["price_cap_hit_at_cycle"]
    console.print(
        "强制交割 forced delivery (price cap): "
        + (f"cycle {capped}" if capped is not None else "not reached")
    )
    console.print(f"报告 report: {html_path}")
