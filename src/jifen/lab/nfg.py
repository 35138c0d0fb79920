"""The "NFG" synthesis scheme (schemes.md §B), replayed cycle by cycle with exact integers.

Jifen refuses to run this scheme (brief §9, compliance.md FUND-4: tokens traded for money are a
virtual-currency activity, and a token that only pays out through resale to newcomers is a promise
of returns funded by later members, FUND-1/2). The lab replays the pitch's own arithmetic so that
anyone can see where the money paid to sellers comes from: every synthesized token that a holder
sells must be bought by someone, and when the holders keep their 5, only newcomers can buy. Their
number grows by the synthesis ratio (6 / 5 = +20%) every cycle, so any finite market runs out.

This module is pure: values in, a :class:`LabResult` out. Money is in integer fen; the price is
rounded half up to whole fen once per cycle (an exchange quotes whole fen); the fee is rounded half
up per newcomer's purchase (one trade of 5 tokens). Everything else is exact integer arithmetic;
chart series are floats for drawing only.

Why this module is long: the pitch's arithmetic, its cycle replay and its charts belong together;
each function is one step of the pitch, in the pitch's order.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from jifen.lab._result import Chart, LabResult
from jifen.lab.errors import InvalidParameter

__all__ = ["MAX_CYCLES", "NfgParams", "replay_cycles"]

MAX_CYCLES = 500  # 1.2**500 ≈ 1e39 people: far past any market, and still a finite float to draw

_BP = 10_000  # basis points in one


@dataclass(frozen=True)
class NfgParams:
    """What the pitch says (schemes.md §B), plus what it leaves out: a price path and a market.

    Defaults are the pitch's values. ``price_growth_bp_per_cycle`` is the price rise the seller of
    a synthesized token is promised each cycle (0 = the price merely holds); the price stops at
    ``price_cap_multiple`` × the issue price, where the pitch's forced delivery happens.
    ``market_people`` is everyone who could ever join; ``market_money_fen`` (optional) is all the
    money they could ever bring. Either one ends the scheme when the cumulative figure passes it.
    """

    first_issue_tokens: int = 10_000
    issue_price_fen: int = 100_000  # ¥1,000 per token
    tokens_per_synthesis: int = 5  # held tokens a synthesis needs (and keeps)
    balance_units_per_synthesis: int = 1_000  # platform balance a synthesis consumes
    tokens_after_synthesis: int = 6  # 5 tokens become 6
    cycle_days: int = 10
    tokens_kept: int = 5  # holders keep 5 and sell the rest
    entry_tokens: int = 5  # a newcomer must buy 5 to start synthesizing
    price_cap_multiple: int = 20  # forced delivery at 20× the issue price
    fee_bp: int = 100  # exchange fee, 1% of each trade, paid by the buyer here
    price_growth_bp_per_cycle: int = 0
    market_people: int = 1_000_000
    market_money_fen: int | None = None

    def __post_init__(self) -> None:
        """Reject parameters for which the pitch's arithmetic means nothing (no silent clamping)."""
        positive = {
            "first_issue_tokens": self.first_issue_tokens,
            "issue_price_fen": self.issue_price_fen,
            "tokens_per_synthesis": self.tokens_per_synthesis,
            "cycle_days": self.cycle_days,
            "entry_tokens": self.entry_tokens,
            "price_cap_multiple": self.price_cap_multiple,
            "market_people": self.market_people,
        }
        for name, value in positive.items():
            if value < 1:
                raise InvalidParameter(f"{name} must be at least 1, got {value}")
        if self.balance_units_per_synthesis < 0:
            raise InvalidParameter("balance_units_per_synthesis must not be negative")
        if self.first_issue_tokens % self.tokens_per_synthesis:
            raise InvalidParameter("first_issue_tokens must be a multiple of tokens_per_synthesis")
        if not self.tokens_per_synthesis < self.tokens_after_synthesis:
            raise InvalidParameter("tokens_after_synthesis must exceed tokens_per_synthesis")
        # The pitch's holder owns exactly one synthesis lot between cycles: a newcomer buys one
        # lot, a holder keeps one lot and sells the rest. Other values would need a model of
        # holders with several lots or idle tokens, which the pitch does not describe.
        if not self.tokens_kept == self.entry_tokens == self.tokens_per_synthesis:
            raise InvalidParameter(
                "tokens_kept and entry_tokens must equal tokens_per_synthesis (the pitch: keep 5, "
                "a newcomer buys 5, a synthesis takes 5)"
            )
        if not 0 <= self.fee_bp < _BP:
            raise InvalidParameter("fee_bp must be in [0, 10000)")
        if not 0 <= self.price_growth_bp_per_cycle <= 100 * _BP:
            raise InvalidParameter("price_growth_bp_per_cycle must be in [0, 1000000]")
        if self.market_money_fen is not None and self.market_money_fen < 0:
            raise InvalidParameter("market_money_fen must not be negative")

    @property
    def initial_holders(self) -> int:
        """The first issue is bought in lots of ``tokens_per_synthesis``: 10,000 / 5 = 2,000."""
        return self.first_issue_tokens // self.tokens_per_synthesis

    @property
    def cap_price_fen(self) -> int:
        return self.issue_price_fen * self.price_cap_multiple


@dataclass(frozen=True)
class _Cycle:
    """One row of the replay. Integers only; money in fen."""

    cycle: int
    day: int
    tokens: int  # in existence after this cycle's synthesis
    holders: int  # synthesizing holders after this cycle's newcomers joined
    tokens_for_sale: int  # synthesized tokens offered, plus any left unsold last cycle
    newcomers: int  # needed to buy them, ``entry_tokens`` each
    tokens_unsold: int  # remainder smaller than one newcomer's lot, offered again next cycle
    participants: int  # cumulative: first-issue buyers plus every newcomer so far
    price_fen: int
    money_in_fen: int  # what this cycle's newcomers (or the first issue) must bring, fee included
    balance_units_consumed: int  # platform balance burnt by this cycle's syntheses
    cumulative_money_in_fen: int
    price_capped: bool  # forced delivery: the price has reached the cap
    market_exhausted: bool  # cumulative people or money now exceed the market


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _price_fen(params: NfgParams, cycle: int) -> int:
    """Issue price × (1 + growth)^cycle, in whole fen, never above the cap."""
    growth = Fraction(_BP + params.price_growth_bp_per_cycle, _BP)
    return min(params.cap_price_fen, _round_half_up(params.issue_price_fen * growth**cycle))


def _exhausted(params: NfgParams, participants: int, money_fen: int) -> str | None:
    if participants > params.market_people:
        return "people"
    if params.market_money_fen is not None and money_fen > params.market_money_fen:
        return "money"
    return None


def _cycles(params: NfgParams, cycles: int) -> list[_Cycle]:
    """Cycle 0 is the first issue; each later cycle every holder synthesizes and sells the surplus.

    Holders keep ``tokens_kept`` and sell the rest; the tokens for sale can only go to newcomers
    (the holders are not buying: they keep 5 and sell), in lots of ``entry_tokens``. A remainder
    smaller than one lot stays unsold with its seller and is offered again next cycle, so tokens
    are conserved exactly: tokens = holders × kept + unsold.
    """
    holders = params.initial_holders
    participants = holders
    first_money = params.first_issue_tokens * params.issue_price_fen  # primary sale: no fee
    cumulative = first_money
    rows = [
        _Cycle(
            cycle=0,
            day=0,
            tokens=params.first_issue_tokens,
            holders=holders,
            tokens_for_sale=0,
            newcomers=0,
            tokens_unsold=0,
            participants=participants,
            price_fen=_price_fen(params, 0),
            money_in_fen=first_money,
            balance_units_consumed=0,
            cumulative_money_in_fen=cumulative,
            price_capped=_price_fen(params, 0) >= params.cap_price_fen,
            market_exhausted=_exhausted(params, participants, cumulative) is not None,
        )
    ]
    tokens = params.first_issue_tokens
    unsold = 0
    surplus_per_holder = params.tokens_after_synthesis - params.tokens_kept
    for n in range(1, cycles + 1):
        synthesizers = holders
        tokens += synthesizers * (params.tokens_after_synthesis - params.tokens_per_synthesis)
        for_sale = synthesizers * surplus_per_holder + unsold
        newcomers, unsold = divmod(for_sale, params.entry_tokens)
        holders += newcomers
        participants += newcomers
        price = _price_fen(params, n)
        lot_fen = params.entry_tokens * price
        fee_fen = _round_half_up(Fraction(lot_fen * params.fee_bp, _BP))
        money = newcomers * (lot_fen + fee_fen)
        cumulative += money
        assert tokens == holders * params.tokens_kept + unsold, "tokens are conserved"
        rows.append(
            _Cycle(
                cycle=n,
                day=n * params.cycle_days,
                tokens=tokens,
                holders=holders,
                tokens_for_sale=for_sale,
                newcomers=newcomers,
                tokens_unsold=unsold,
                participants=participants,
                price_fen=price,
                money_in_fen=money,
                balance_units_consumed=synthesizers * params.balance_units_per_synthesis,
                cumulative_money_in_fen=cumulative,
                price_capped=price >= params.cap_price_fen,
                market_exhausted=_exhausted(params, participants, cumulative) is not None,
            )
        )
    return rows


def _yuan(fen: int) -> str:
    """Exact decimal yuan text, no separators (JSON-friendly): 202000000 -> '2020000.00'."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _decimal_text(value: Fraction) -> str:
    """Exact decimal text when the fraction terminates (6/5 -> '1.2'), else 6 places, rounded."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    places = 6
    if denominator == 1:
        places = 0
        while (value * 10**places).denominator != 1:
            places += 1
    scaled = _round_half_up(abs(value) * 10**places)
    sign = "-" if value < 0 else ""
    whole, part = divmod(scaled, 10**places)
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"


def _summary(params: NfgParams, rows: list[_Cycle]) -> dict[str, Any]:
    growth = Fraction(params.tokens_after_synthesis, params.tokens_per_synthesis)
    price_growth = Fraction(_BP + params.price_growth_bp_per_cycle, _BP)
    doubling_days = params.cycle_days * math.log(2) / math.log(growth)
    exhausted = next((r for r in rows if r.market_exhausted), None)
    capped = next((r for r in rows if r.price_capped), None)
    crossed = next(
        (r for r in rows if r.cumulative_money_in_fen >= 100_000_000 or r.participants >= 150),
        None,
    )
    last = rows[-1]
    return {
        "cycles": last.cycle,
        "days": last.day,
        "growth_factor_per_cycle": _decimal_text(growth),
        "growth_percent_per_cycle": _decimal_text((growth - 1) * 100),
        "doubling_time_days": f"{doubling_days:.2f}",
        "money_growth_factor_per_cycle_until_cap": _decimal_text(growth * price_growth),
        "market_people": params.market_people,
        "market_money_yuan": (
            None if params.market_money_fen is None else _yuan(params.market_money_fen)
        ),
        "market_exhausted_at_cycle": None if exhausted is None else exhausted.cycle,
        "market_exhausted_on_day": None if exhausted is None else exhausted.day,
        "market_exhausted_by": (
            None
            if exhausted is None
            else _exhausted(params, exhausted.participants, exhausted.cumulative_money_in_fen)
        ),
        "price_cap_yuan": _yuan(params.cap_price_fen),
        "price_cap_hit_at_cycle": None if capped is None else capped.cycle,
        "price_cap_hit_on_day": None if capped is None else capped.day,
        "fund3_threshold_crossed_at_cycle": None if crossed is None else crossed.cycle,
        "final_tokens": last.tokens,
        "final_holders": last.holders,
        "final_participants": last.participants,
        "final_newcomers_needed": last.newcomers,
        "final_price_yuan": _yuan(last.price_fen),
        "final_money_in_yuan": _yuan(last.money_in_fen),
        "total_money_in_yuan": _yuan(last.cumulative_money_in_fen),
        "total_balance_units_consumed": sum(r.balance_units_consumed for r in rows),
    }


def _table(rows: list[_Cycle]) -> list[dict[str, Any]]:
    """JSON-able rows: counts as integers, money as exact yuan strings."""
    return [
        {
            "cycle": r.cycle,
            "day": r.day,
            "tokens": r.tokens,
            "holders": r.holders,
            "tokens_for_sale": r.tokens_for_sale,
            "newcomers_needed": r.newcomers,
            "tokens_unsold": r.tokens_unsold,
            "participants": r.participants,
            "price_yuan": _yuan(r.price_fen),
            "money_in_yuan": _yuan(r.money_in_fen),
            "balance_units_consumed": r.balance_units_consumed,
            "cumulative_money_in_yuan": _yuan(r.cumulative_money_in_fen),
            "price_capped": r.price_capped,
            "market_exhausted": r.market_exhausted,
        }
        for r in rows
    ]


def _charts(params: NfgParams, rows: list[_Cycle]) -> tuple[Chart, ...]:
    later = rows[1:]  # cycle 0 has no newcomers: it is the first issue
    return (
        Chart(
            name="nfg_newcomers",
            title_zh="每个周期需要的新人数",
            title_en="Newcomers needed per cycle",
            x_label="cycle (10 days)" if params.cycle_days == 10 else "cycle",
            y_label="newcomers (log scale)",
            series={"newcomers needed": [(float(r.cycle), float(r.newcomers)) for r in later]},
            kind="bar",
            log_y=True,
        ),
        Chart(
            name="nfg_money",
            title_zh="每个周期新人必须带来的资金",
            title_en="Money newcomers must bring per cycle",
            x_label="cycle",
            y_label="yuan (log scale)",
            series={
                "money in per cycle (¥)": [(float(r.cycle), r.money_in_fen / 100) for r in later],
                "price per token (¥)": [(float(r.cycle), r.price_fen / 100) for r in later],
            },
            log_y=True,
        ),
        Chart(
            name="nfg_tokens",
            title_zh="存量通证",
            title_en="Tokens in existence",
            x_label="cycle",
            y_label="tokens (log scale)",
            series={
                "tokens": [(float(r.cycle), float(r.tokens)) for r in rows],
                "tokens for sale": [(float(r.cycle), float(r.tokens_for_sale)) for r in later],
            },
            log_y=True,
        ),
        Chart(
            name="nfg_participants",
            title_zh="累计参与人数与市场规模",
            title_en="Participants vs market size",
            x_label="cycle",
            y_label="people (log scale)",
            series={
                "participants": [(float(r.cycle), float(r.participants)) for r in rows],
                "market size": [(float(r.cycle), float(params.market_people)) for r in rows],
            },
            log_y=True,
        ),
    )


_EXPLANATION_ZH = """\
NFG“合成”模式：首发 {issue:,} 枚，每枚 ¥{price}，即 {holders:,} 人各持 {lot} 枚。\
每 {days} 天，每位持有人用 {lot} 枚加 {balance:,} 平台余额合成为 {after} 枚，\
自己留 {kept} 枚，把多出的卖掉。

卖出的新币只能卖给新人：老持有人都在“留 {kept} 卖 {surplus}”，不会买。\
所以付给卖家的每一分钱，都只能来自新加入的人。\
每个周期需要的新人数是上个周期的 {growth} 倍（每 {days} 天增长 {pct}%），\
约 {doubling} 天翻一番。{exhausted_zh}\
一旦没有新人，新币卖不出去，价格只能下跌，最后进来的人承担损失。

这是把数字通证与人民币相互买卖（虚拟货币相关业务，银发〔2021〕237号），\
并以转卖给后来者的钱兑现“收益”，属于非法集资的典型手法。\
Jifen（积分）不会运行这一模式；实验室只是把它的账算清楚。"""

_EXPLANATION_EN = """\
NFG "synthesis": {issue:,} tokens are first issued at ¥{price} each, so {holders:,} holders own \
{lot} each. Every {days} days each holder turns {lot} tokens plus {balance:,} units of platform \
balance into {after}, keeps {kept} and sells the rest.

The new tokens can only be sold to newcomers: the existing holders keep {kept} and sell, they do \
not buy. So every yuan paid to a seller can only come from someone who has just joined. The number \
of newcomers needed each cycle is {growth}× the last ({pct}% more every {days} days), doubling \
about every {doubling} days. {exhausted_en} Once newcomers stop coming, the new tokens find no \
buyer, the price can only fall, and the last to join bear the loss.

This is trading a digital token for yuan (a virtual-currency activity, PBoC notice \
银发〔2021〕237号) and paying "returns" out of resale to later entrants: a textbook form of \
illegal fund-raising. Jifen will not run it; the lab only does its arithmetic in the open."""


def replay_cycles(params: NfgParams, cycles: int) -> LabResult:
    """Replay the pitch for ``cycles`` synthesis cycles after the first issue (cycle 0).

    Rows continue past the cycle where the market is exhausted (flagged ``market_exhausted``), to
    show how far the required numbers run beyond it; nothing is simulated as if it still worked.
    """
    if not 0 <= cycles <= MAX_CYCLES:
        raise InvalidParameter(f"cycles must be in [0, {MAX_CYCLES}], got {cycles}")
    rows = _cycles(params, cycles)
    summary = _summary(params, rows)
    exhausted = summary["market_exhausted_at_cycle"]
    facts = {
        "issue": params.first_issue_tokens,
        "price": f"{params.issue_price_fen // 100:,}",
        "holders": params.initial_holders,
        "lot": params.tokens_per_synthesis,
        "days": params.cycle_days,
        "balance": params.balance_units_per_synthesis,
        "after": params.tokens_after_synthesis,
        "kept": params.tokens_kept,
        "surplus": params.tokens_after_synthesis - params.tokens_kept,
        "growth": summary["growth_factor_per_cycle"],
        "pct": summary["growth_percent_per_cycle"],
        "doubling": summary["doubling_time_days"],
        "exhausted_zh": (
            f"按 {params.market_people:,} 人的市场计算，第 {exhausted} 个周期（第 "
            f"{summary['market_exhausted_on_day']} 天）就没有人可进了。"
            if exhausted is not None
            else f"在模拟的 {cycles} 个周期内市场尚未耗尽，但增长不会停。"
        ),
        "exhausted_en": (
            f"In a market of {params.market_people:,} people nobody is left to join by cycle "
            f"{exhausted} (day {summary['market_exhausted_on_day']})."
            if exhausted is not None
            else f"The market is not exhausted within the {cycles} cycles replayed, but the "
            "growth does not stop."
        ),
    }
    parameters: dict[str, Any] = {"cycles": cycles, **asdict(params)}
    return LabResult(
        scheme="nfg",
        mode="cycles",
        parameters=parameters,
        summary=summary,
        charts=_charts(params, rows),
        explanation_zh=_EXPLANATION_ZH.format(**facts),
        explanation_en=_EXPLANATION_EN.format(**facts),
        table=_table(rows),
    )
