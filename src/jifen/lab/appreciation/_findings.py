"""Turn a population run into findings a person can read: who got out, who paid for it, and what
is left for the last to join. Pure: a :class:`PopulationRun` in, a :class:`LabResult` out.

Exact figures are decimal strings computed from integers (yuan to the fen, ratios to 4
decimals, ties to even); chart series are floats, for drawing only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from jifen.lab._result import Chart, LabResult
from jifen.lab.appreciation._core import BP, AppreciationParams
from jifen.lab.appreciation._engine import run_population
from jifen.lab.appreciation._population import (
    COHORT_DAYS,
    MICRO,
    CohortStats,
    DayStats,
    PopulationParams,
    PopulationRun,
    ProgressCallback,
    Q,
)

__all__ = ["LATE_WINDOW_DAYS", "findings", "simulate"]

LATE_WINDOW_DAYS = 60
"""The "last cohorts": those whose join month starts in the last 60 days before growth stops."""


def simulate(
    params: AppreciationParams,
    population: PopulationParams,
    seed: int,
    on_progress: ProgressCallback | None = None,
) -> LabResult:
    """Run a population (``_population``) and report it (mode "population")."""
    return findings(run_population(params, population, seed, on_progress))


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _ratio(numerator: int, denominator: int, places: int = 4) -> str | None:
    """``numerator ÷ denominator`` to ``places`` decimals (ties to even); None for 0 ÷ 0."""
    if not denominator:
        return None
    with localcontext() as context:
        context.prec = 60
        value = Decimal(numerator) / Decimal(denominator)
        return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):f}"


def _price(price_q: int) -> str:
    """price_q (fen per point × Q) as yuan per point, 6 decimals."""
    return _ratio(price_q, 100 * Q, 6) or "0"


def _percent(numerator: int, denominator: int) -> str:
    return _ratio(100 * numerator, denominator, 2) or "0.00"


def _paper_fen(points_micro: int, price_q: int) -> int:
    """Holdings' value at the price, before the sell haircut, rounded down to the fen."""
    return points_micro * price_q // (MICRO * Q)


def _split(cohort: CohortStats) -> dict[str, int]:
    """Where one cohort's payouts came from: earlier, own, later join months, financing."""
    by_cohort, financing = cohort.funded_by[:-1], cohort.funded_by[-1]
    c = cohort.cohort
    return {
        "earlier": sum(by_cohort[:c]),
        "own": by_cohort[c],
        "later": sum(by_cohort[c + 1 :]),
        "financing": financing,
    }


def _group(cohorts: Sequence[CohortStats], price_q: int) -> dict[str, Any]:
    members = sum(c.members for c in cohorts)
    spent = sum(c.spent_fen for c in cohorts)
    paid = sum(c.paid_fen for c in cohorts)
    reached = sum(c.reached_exit for c in cohorts)
    paper = sum(_paper_fen(c.points_micro, price_q) for c in cohorts)
    later = sum(_split(c)["later"] for c in cohorts)
    return {
        "cohorts": [c.cohort for c in cohorts],
        "members": members,
        "spent_yuan": _yuan(spent),
        "paid_out_yuan": _yuan(paid),
        "return_ratio": _ratio(paid, spent),
        "reached_exit": reached,
        "reached_exit_share": _ratio(reached, members),
        "paid_out_from_later_cohorts_yuan": _yuan(later),
        "paid_out_from_later_cohorts_share": _ratio(later, paid),
        "value_on_paper_yuan": _yuan(paper),
        "value_on_paper_over_spent": _ratio(paper, spent),
    }


def findings(run: PopulationRun) -> LabResult:
    """The summary, charts and bilingual explanation of one population run."""
    params, population = run.params, run.population
    growth_end = population.growth_end_day
    joined = [c for c in run.cohorts if c.members]
    members = sum(c.members for c in joined)
    early = [c for c in joined if c.cohort * COHORT_DAYS < population.growth_midpoint_day]
    late = [
        c for c in joined if growth_end - LATE_WINDOW_DAYS <= c.cohort * COHORT_DAYS < growth_end
    ]
    splits = {c.cohort: _split(c) for c in joined}
    from_later = sum(s["later"] for s in splits.values())
    paper_total = _paper_fen(run.circulation_micro, run.price_q)
    k = f"{Decimal(params.exit_multiple_bp) / BP:.2f}"
    early_group, late_group = _group(early, run.price_q), _group(late, run.price_q)
    summary: dict[str, Any] = {
        "seed": run.seed,
        "members": members,
        "days": population.days,
        "growth_stops_on_day": growth_end,
        "orders": run.orders,
        "reinvest_orders": run.reinvest_orders,
        "exit_multiple": k,
        "rounding": "integers (fen, micro-points); price, minted points and payouts round down",
        "reached_exit": {"members": run.reached_exit, "share": _ratio(run.reached_exit, members)},
        "forced_exits": run.forced_exits,
        "voluntary_sells": run.sells,
        "totals": _totals(run, paper_total),
        "paid_out_from_other_members": {
            "yuan": _yuan(run.paid_beyond_own_inflow_fen),
            "share": _ratio(run.paid_beyond_own_inflow_fen, run.paid_fen),
            "note": "at least this much: payouts beyond what the payee's own orders had put "
            "into the pool and not yet been paid back",
        },
        "paid_out_from_later_cohorts": {
            "yuan": _yuan(from_later),
            "share": _ratio(from_later, run.paid_fen),
        },
        "early_cohorts": early_group,
        "last_cohorts": late_group,
        "cohorts": [_cohort_row(c, splits[c.cohort], run.price_q) for c in joined],
    }
    zh, en = _explain(run, summary, members, from_later, paper_total, k)
    return LabResult(
        scheme="appreciation",
        mode="population",
        parameters={**asdict(params), **asdict(population), "seed": run.seed},
        summary=summary,
        charts=_charts(run, joined),
        explanation_zh=zh,
        explanation_en=en,
        table=tuple(_day_row(d) for d in run.daily),
    )


def _totals(run: PopulationRun, paper_total_fen: int) -> dict[str, str | None]:
    return {
        "spent_yuan": _yuan(run.spent_fen),
        "paid_out_yuan": _yuan(run.paid_fen),
        "paid_out_over_spent": _ratio(run.paid_fen, run.spent_fen),
        "platform_yuan": _yuan(run.platform_fen),
        "referral_yuan": _yuan(run.referral_fen),
        "merchant_retained_yuan": _yuan(run.merchant_fen),
        "financing_yuan": _yuan(run.financing_fen),
        "pool_end_yuan": _yuan(run.pool_fen),
        "points_in_circulation": f"{run.circulation_micro // MICRO}."
        f"{run.circulation_micro % MICRO:06d}",
        "final_price_yuan": _price(run.price_q),
        "value_on_paper_yuan": _yuan(paper_total_fen),
    }


def _cohort_row(cohort: CohortStats, split: dict[str, int], price_q: int) -> dict[str, Any]:
    c = cohort
    return {
        "cohort": c.cohort,
        "join_days": f"{c.cohort * COHORT_DAYS}-{(c.cohort + 1) * COHORT_DAYS - 1}",
        "members": c.members,
        "spent_yuan": _yuan(c.spent_fen),
        "paid_out_yuan": _yuan(c.paid_fen),
        "return_ratio": _ratio(c.paid_fen, c.spent_fen),
        "reached_exit": c.reached_exit,
        "value_on_paper_yuan": _yuan(_paper_fen(c.points_micro, price_q)),
        "funded_by_yuan": {key: _yuan(v) for key, v in split.items()},
        "paid_out_from_later_cohorts_share": _ratio(split["later"], c.paid_fen),
    }


def _day_row(d: DayStats) -> dict[str, Any]:
    return {
        "day": d.day,
        "members": d.members,
        "orders": d.orders,
        "price_yuan": _price(d.price_q),
        "pool_yuan": _yuan(d.pool_fen),
        "pool_inflow_yuan": _yuan(d.inflow_fen),
        "paid_out_yuan": _yuan(d.paid_fen),
        "forced_exits": d.forced_exits,
        "sells": d.sells,
    }


def _charts(run: PopulationRun, joined: Sequence[CohortStats]) -> tuple[Chart, ...]:
    days = [float(d.day) for d in run.daily]
    return (
        Chart(
            name="price_path",
            title_zh="积分价格（每日收盘）",
            title_en="Point price, end of each day",
            x_label="day",
            y_label="price (yuan per point)",
            series={
                "price": [(x, d.price_q / (100 * Q)) for x, d in zip(days, run.daily, strict=True)]
            },
        ),
        Chart(
            name="pool",
            title_zh="盈利池余额（每日）",
            title_en="Profit pool, end of each day",
            x_label="day",
            y_label="pool (yuan)",
            series={"pool": [(x, d.pool_fen / 100) for x, d in zip(days, run.daily, strict=True)]},
        ),
        Chart(
            name="return_by_cohort",
            title_zh="各入会月份：已兑付 ÷ 消费",
            title_en="Paid out ÷ spent, by join month",
            x_label="join month (30-day cohort)",
            y_label="paid out ÷ spent",
            series={
                "paid out / spent": [
                    (float(c.cohort), c.paid_fen / c.spent_fen if c.spent_fen else 0.0)
                    for c in joined
                ]
            },
            kind="bar",
        ),
        Chart(
            name="spent_vs_paper_by_cohort",
            title_zh="各入会月份：消费 与 期末纸面积分价值",
            title_en="Spent vs points' value on paper at the end, by join month",
            x_label="join month (30-day cohort)",
            y_label="yuan",
            series={
                "spent": [(float(c.cohort), c.spent_fen / 100) for c in joined],
                "value on paper": [
                    (float(c.cohort), _paper_fen(c.points_micro, run.price_q) / 100) for c in joined
                ],
            },
            kind="bar",
        ),
    )


def _money(fen: int) -> str:
    """Yuan with thousands separators, for the prose."""
    return f"{fen // 100:,}.{fen % 100:02d}"


def _explain(
    run: PopulationRun,
    summary: dict[str, Any],
    members: int,
    from_later: int,
    paper_total: int,
    k: str,
) -> tuple[str, str]:
    """Say plainly where the money paid out came from, with this run's numbers."""
    params, population = run.params, run.population
    pool_pct = f"{params.pool_bp / 100:g}"
    late = summary["last_cohorts"]
    late_paper = _money(int(Decimal(late["value_on_paper_yuan"]) * 100))
    others = run.paid_beyond_own_inflow_fen
    others_pct = _percent(others, run.paid_fen)
    reached_pct = _percent(run.reached_exit, members)
    later_pct = _percent(from_later, run.paid_fen)
    ceiling_pct = _percent(run.pool_fen + run.paid_fen, run.spent_fen + run.financing_fen)
    start, end = _price(params.initial_price_fen * Q), _price(run.price_q)
    zh = (
        f"兑付给会员的每一分钱都来自盈利池，而盈利池里只有会员订单的 {pool_pct}%"
        f"（外加 {_money(run.financing_fen)} 元融资注入），没有任何别的收入。"
        f"会员共消费 {_money(run.spent_fen)} 元，共被兑付 {_money(run.paid_fen)} 元；"
        f"其中至少 {_money(others)} 元（{others_pct}%）是别人的钱"
        "（超出领钱者自己订单注入池子的部分），"
        f"{_money(from_later)} 元（{later_pct}%）来自比领钱者更晚的月份入会的会员的订单。"
        f"{members:,} 名会员中只有 {run.reached_exit:,} 人（{reached_pct}%）曾达到 {k} 倍出局线；"
        f"每消费 1 元只得到价值 {params.pool_bp * params.mint_bp / BP / BP:.3f} 元的积分，"
        "价格要涨 "
        f"{params.exit_multiple_bp * BP / (params.pool_bp * params.mint_bp):.1f} 倍才够出局。"
        f"积分价格从 {start} 元涨到 {end} 元，只因为新订单（和融资）不断进来。"
        f"第 {population.growth_end_day} 天停止增长后，最后入会的 {late['members']:,} 人"
        f"拿回了消费的 {late['return_ratio'] or '0'} 倍，{late['reached_exit']:,} 人达到出局线，"
        f"手中积分纸面价值 {late_paper} 元——只有更晚的人继续下单才可能兑现。"
        f"所有会员能被兑付的总额上限就是池子本身：消费额（含融资）的 {ceiling_pct}%。"
        f"期末全部积分纸面价值 {_money(paper_total)} 元。"
    )
    en = (
        "Every yuan paid to members came out of the profit pool, and the pool holds nothing but "
        f"{pool_pct}% of members' own orders (plus ¥{_money(run.financing_fen)} of financing): "
        f"there is no other income. Members spent ¥{_money(run.spent_fen)} and were paid "
        f"¥{_money(run.paid_fen)}. At least ¥{_money(others)} of that ({others_pct}%) was other "
        "people's money (beyond what the payee's own orders put into the pool), and "
        f"¥{_money(from_later)} ({later_pct}%) came from orders of members who joined in a later "
        f"month than the payee. Only {run.reached_exit:,} of {members:,} members ({reached_pct}%) "
        f"ever reached the {k}× exit: each yuan spent buys points worth "
        f"¥{params.pool_bp * params.mint_bp / BP / BP:.3f}, so the price must rise "
        f"{params.exit_multiple_bp * BP / (params.pool_bp * params.mint_bp):.1f}× after a "
        f"purchase before it can exit. The point price rose from ¥{start} to ¥{end} only because "
        "new orders (and financing) kept coming in. After growth stopped on day "
        f"{population.growth_end_day}, "
        f"the last {late['members']:,} members to join got back {late['return_ratio'] or '0'} of "
        f"what they spent, {late['reached_exit']:,} reached the exit, and they hold "
        f"¥{late_paper} on paper, payable only if still later members keep ordering. Everything "
        "all members could ever be paid is the pool itself: "
        f"{ceiling_pct}% of what they spent (with financing). Points on paper in all: "
        f"¥{_money(paper_total)}."
    )
    return zh, en
