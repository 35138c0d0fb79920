"""The NFG replay does the pitch's own arithmetic (schemes.md §B), exactly, cycle by cycle."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jifen.errors import JifenError
from jifen.lab import InvalidChart, InvalidEvent, InvalidParameter, LabError, LabResult
from jifen.lab.nfg import MAX_CYCLES, NfgParams, replay_cycles

PITCH = NfgParams()


def _row(result: LabResult, cycle: int) -> dict[str, Any]:
    row = result.table[cycle]
    assert row["cycle"] == cycle
    return dict(row)


# cycle, day, tokens, holders, for sale, newcomers, unsold, participants, money in (¥)
# Money: cycle 0 is the first issue (10,000 × ¥1,000, no exchange fee); later, each newcomer
# pays 5 × ¥1,000 + 1% fee = ¥5,050.
PITCH_CYCLES = [
    (0, 0, 10_000, 2_000, 0, 0, 0, 2_000, "10000000.00"),
    (1, 10, 12_000, 2_400, 2_000, 400, 0, 2_400, "2020000.00"),
    (2, 20, 14_400, 2_880, 2_400, 480, 0, 2_880, "2424000.00"),
    (3, 30, 17_280, 3_456, 2_880, 576, 0, 3_456, "2908800.00"),
    # 3,456 for sale: 691 lots of 5 and one token left with its seller
    (4, 40, 20_736, 4_147, 3_456, 691, 1, 4_147, "3489550.00"),
    # 4,147 new tokens plus last cycle's unsold one: 4,148 = 829 × 5 + 3
    (5, 50, 24_883, 4_976, 4_148, 829, 3, 4_976, "4186450.00"),
]


@pytest.mark.parametrize(
    ("cycle", "day", "tokens", "holders", "for_sale", "newcomers", "unsold", "people", "money"),
    PITCH_CYCLES,
)
def test_the_replay_reproduces_the_pitch_cycle_by_cycle(
    cycle: int,
    day: int,
    tokens: int,
    holders: int,
    for_sale: int,
    newcomers: int,
    unsold: int,
    people: int,
    money: str,
) -> None:
    row = _row(replay_cycles(PITCH, 5), cycle)
    assert (row["day"], row["tokens"], row["holders"]) == (day, tokens, holders)
    assert (row["tokens_for_sale"], row["newcomers_needed"], row["tokens_unsold"]) == (
        for_sale,
        newcomers,
        unsold,
    )
    assert row["participants"] == people
    assert row["price_yuan"] == "1000.00"
    assert row["money_in_yuan"] == money


def test_every_synthesis_burns_the_platform_balance_of_the_pitch() -> None:
    result = replay_cycles(PITCH, 2)
    assert [r["balance_units_consumed"] for r in result.table] == [0, 2_000_000, 2_400_000]
    assert result.summary["total_balance_units_consumed"] == 4_400_000


def test_cumulative_money_is_the_sum_of_every_cycles_money() -> None:
    result = replay_cycles(PITCH, 3)
    assert [r["cumulative_money_in_yuan"] for r in result.table] == [
        "10000000.00",
        "12020000.00",
        "14444000.00",
        "17352800.00",
    ]


def test_counts_are_exact_integers_even_after_many_cycles() -> None:
    result = replay_cycles(PITCH, MAX_CYCLES)
    last = result.table[-1]
    assert all(
        type(last[key]) is int for key in ("tokens", "holders", "newcomers_needed", "participants")
    )
    assert last["tokens"] == last["holders"] * 5 + last["tokens_unsold"]
    assert last["tokens"] > 10**39  # the replay does not stop or overflow; the market did long ago


def test_growth_is_twenty_percent_a_cycle_and_doubles_in_about_38_days() -> None:
    summary = replay_cycles(PITCH, 1).summary
    assert summary["growth_factor_per_cycle"] == "1.2"
    assert summary["growth_percent_per_cycle"] == "20"
    assert summary["doubling_time_days"] == "38.02"  # 10 × ln 2 / ln 1.2


@pytest.mark.parametrize(
    ("market_people", "cycle"),
    [
        (1_999, 0),  # the first issue alone is bigger
        (2_400, 2),  # 2,400 people at cycle 1 fit exactly; cycle 2 needs 2,880
        (2_880, 3),
        (3_000, 3),
        (1_000_000, 35),  # 2,000 × 1.2^n > 1,000,000 once n > 34.09
    ],
)
def test_a_market_of_n_people_is_exhausted_at_the_cycle_computed_by_hand(
    market_people: int, cycle: int
) -> None:
    result = replay_cycles(NfgParams(market_people=market_people), 40)
    assert result.summary["market_exhausted_at_cycle"] == cycle
    assert result.summary["market_exhausted_on_day"] == cycle * 10
    assert result.summary["market_exhausted_by"] == "people"
    assert [r["market_exhausted"] for r in result.table].index(True) == cycle


def test_the_money_in_the_market_can_run_out_before_the_people() -> None:
    # cumulative ¥10,000,000; ¥12,020,000; ¥14,444,000; ¥17,352,800
    at_limit = NfgParams(market_money_fen=1_444_400_000)  # exactly cycle 2's total: still fits
    result = replay_cycles(at_limit, 5)
    assert result.summary["market_exhausted_at_cycle"] == 3
    assert result.summary["market_exhausted_by"] == "money"
    assert result.summary["market_money_yuan"] == "14444000.00"


def test_a_market_that_lasts_is_reported_as_not_exhausted() -> None:
    result = replay_cycles(PITCH, 10)
    assert result.summary["market_exhausted_at_cycle"] is None
    assert "not exhausted within the 10 cycles" in result.explanation_en


def test_a_flat_price_never_reaches_the_forced_delivery_cap() -> None:
    summary = replay_cycles(PITCH, 100).summary
    assert summary["price_cap_hit_at_cycle"] is None
    assert summary["price_cap_yuan"] == "20000.00"
    assert summary["money_growth_factor_per_cycle_until_cap"] == "1.2"


@pytest.mark.parametrize(
    ("growth_bp", "cap_cycle", "prices"),
    [
        # doubling: ¥1,000, 2,000, 4,000, 8,000, 16,000, then 32,000 is capped at 20 × 1,000
        (10_000, 5, ["1000.00", "2000.00", "4000.00", "8000.00", "16000.00", "20000.00"]),
        # +50%: ¥1,000 × 1.5^n; 1.5^6 × ¥1,000 = ¥11,390.625 is rounded half up to whole fen;
        # 1.5^8 × ¥1,000 = ¥25,628.90… is over the cap
        (5_000, 8, ["1000.00", "1500.00", "2250.00", "3375.00", "5062.50", "7593.75", "11390.63"]),
    ],
)
def test_a_rising_price_hits_the_forced_delivery_cap_at_the_cycle_computed_by_hand(
    growth_bp: int, cap_cycle: int, prices: list[str]
) -> None:
    result = replay_cycles(NfgParams(price_growth_bp_per_cycle=growth_bp), 12)
    assert [r["price_yuan"] for r in result.table[: len(prices)]] == prices
    assert result.summary["price_cap_hit_at_cycle"] == cap_cycle
    assert result.summary["price_cap_hit_on_day"] == cap_cycle * 10
    assert all(r["price_yuan"] == "20000.00" for r in result.table[cap_cycle:])
    assert (
        result.table[cap_cycle]["price_capped"] and not result.table[cap_cycle - 1]["price_capped"]
    )


def test_the_fee_is_one_percent_of_each_newcomers_purchase_rounded_half_up_to_the_fen() -> None:
    result = replay_cycles(NfgParams(price_growth_bp_per_cycle=5_000), 6)
    row = result.table[6]
    # 4,976 holders + 3 unsold = 4,979 for sale: 995 newcomers. Each buys 5 × ¥11,390.63 =
    # ¥56,953.15 and pays a fee of ¥569.5315 -> ¥569.53: ¥57,522.68 each, ¥57,235,066.60 in all
    assert row["newcomers_needed"] == 995
    assert row["money_in_yuan"] == "57235066.60"


def test_the_first_issue_alone_crosses_the_criminal_thresholds() -> None:
    # ¥10,000,000 from 2,000 people: over ¥1,000,000 and over 150 people (FUND-3)
    assert replay_cycles(PITCH, 0).summary["fund3_threshold_crossed_at_cycle"] == 0


def test_the_explanation_says_where_the_money_comes_from_in_both_languages() -> None:
    result = replay_cycles(PITCH, 40)
    assert "只能来自新加入的人" in result.explanation_zh
    assert "20%" in result.explanation_zh and "10 天" in result.explanation_zh
    assert "can only come from someone who has just joined" in result.explanation_en
    assert "20% more every 10 days" in result.explanation_en
    assert "cycle 35 (day 350)" in result.explanation_en


def test_the_result_is_json_able_and_names_its_charts() -> None:
    result = replay_cycles(PITCH, 12)
    assert (result.scheme, result.mode) == ("nfg", "cycles")
    json.dumps([result.parameters, result.summary, list(result.table)])
    assert result.parameters["cycles"] == 12
    assert [c.name for c in result.charts] == [
        "nfg_newcomers",
        "nfg_money",
        "nfg_tokens",
        "nfg_participants",
    ]
    newcomers = result.charts[0]
    assert newcomers.log_y
    assert newcomers.series["newcomers needed"][:2] == [(1.0, 400.0), (2.0, 480.0)]


@pytest.mark.parametrize(
    "bad",
    [
        {"tokens_kept": 6},  # nothing left to sell
        {"tokens_kept": 4},  # could not synthesize again
        {"entry_tokens": 10},  # holders of two lots are not what the pitch describes
        {"tokens_after_synthesis": 5},  # no surplus, no scheme
        {"first_issue_tokens": 10_001},
        {"entry_tokens": 0},
        {"fee_bp": 10_000},
        {"market_money_fen": -1},
    ],
)
def test_parameters_the_arithmetic_cannot_mean_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(InvalidParameter):
        NfgParams(**bad)


@pytest.mark.parametrize("cycles", [-1, MAX_CYCLES + 1])
def test_the_number_of_cycles_is_bounded(cycles: int) -> None:
    with pytest.raises(InvalidParameter):
        replay_cycles(PITCH, cycles)


@settings(max_examples=60, deadline=None)
@given(
    issue_lots=st.integers(1, 5_000),
    lot=st.integers(1, 9),
    extra=st.integers(1, 4),
    cycles=st.integers(0, 30),
)
def test_tokens_are_conserved_and_sold_only_to_newcomers(
    issue_lots: int, lot: int, extra: int, cycles: int
) -> None:
    params = NfgParams(
        first_issue_tokens=issue_lots * lot,
        tokens_per_synthesis=lot,
        tokens_kept=lot,
        tokens_after_synthesis=lot + extra,
        entry_tokens=lot,
    )
    table = replay_cycles(params, cycles).table
    for before, row in itertools.pairwise(table):
        assert row["tokens"] == row["holders"] * lot + row["tokens_unsold"]
        assert row["tokens_for_sale"] == before["holders"] * extra + before["tokens_unsold"]
        assert row["newcomers_needed"] * lot + row["tokens_unsold"] == row["tokens_for_sale"]
        assert row["participants"] - before["participants"] == row["newcomers_needed"]


def test_every_lab_refusal_is_a_jifen_error_with_a_stable_lab_code() -> None:
    errors = [InvalidParameter, InvalidEvent, InvalidChart]
    assert all(issubclass(error, LabError) and issubclass(error, JifenError) for error in errors)
    assert [error.code for error in errors] == [
        "lab.invalid_parameter",
        "lab.invalid_event",
        "lab.invalid_chart",
    ]
    assert not any(issubclass(error, ValueError) for error in errors)
    with pytest.raises(InvalidParameter) as refused:
        NfgParams(fee_bp=10_000)
    assert str(refused.value) == "lab.invalid_parameter: fee_bp must be in [0, 10000)"
