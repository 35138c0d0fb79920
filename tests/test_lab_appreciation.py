"""The consumption-appreciation simulator (schemes.md §A): each event moves the pool, the points
and the price exactly as the pitch says; the replay matches the pitch's arithmetic by hand; the
population engine conserves every fen and traces every payout to the money that funded it."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jifen.lab import InvalidEvent, InvalidParameter
from jifen.lab.appreciation import (
    AppreciationParams,
    Book,
    Holding,
    PopulationParams,
    PopulationRun,
    forced_exit_sweep,
    inject,
    opening_book,
    place_order,
    reaches_exit,
    replay,
    run_population,
    sell,
    simulate,
)

PITCH = AppreciationParams()
NOBODY = Holding(F(0), F(0))
# A scheme generous enough that small populations reach exits and sells within a few weeks:
# the whole order goes to the pool and is minted back as points, so the exit needs only +20%.
GENEROUS = AppreciationParams(
    commission_bp=10_000, platform_bp=0, referral_bp=0, pool_bp=10_000, mint_bp=10_000
)
SMALL = PopulationParams(
    members=300,
    days=120,
    growth_midpoint_day=30,
    growth_steepness=0.1,
    mean_days_between_purchases=7,
    plateau_purchase_rate_bp=5_000,
    amount_median_yuan=100,
    sellers_bp=5_000,
    sell_margin_bp=500,
    financing=((40, 20_000),),
)


def _book(pool: F | int, circulation: F | int) -> Book[F]:
    pool, circulation = F(pool), F(circulation)
    return Book(pool, circulation, pool / circulation)


def _six(value: F) -> str:
    """A Fraction to 6 decimals, ties to even: how the replay prints prices."""
    scaled = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{scaled.quantize(Decimal('0.000001'), rounding=ROUND_HALF_EVEN):f}"


# -- one event at a time, exact ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("book", "amount", "pool", "minted", "price"),
    [
        # Order 1 of the pitch: 16% of ¥1,000 into the pool, ¥112 of points at ¥1.00.
        (opening_book(PITCH, F(0)), 1000, 160, F(112), F(160, 112)),
        # Order 2: ¥112 of points at 160/112 = 78.4 points.
        (_book(160, 112), 1000, 320, F(784, 10), F(320) / F(1904, 10)),
        # Any book: ¥250 puts ¥40 in the pool and mints ¥28 of points at ¥2.50 = 11.2 points.
        (_book(500, 200), 250, 540, F(112, 10), F(540) / F(2112, 10)),
    ],
)
def test_an_order_adds_16_percent_to_the_pool_and_mints_11_2_percent_at_the_old_price(
    book: Book[F], amount: int, pool: int, minted: F, price: F
) -> None:
    after, holding = place_order(book, Holding(F(3), F(40)), F(amount), PITCH)
    assert after.pool_yuan == pool
    assert holding.points == 3 + minted
    assert after.circulation == book.circulation + minted
    assert after.price_yuan == price == after.pool_yuan / after.circulation
    assert holding.spent_yuan == 40 + amount


def test_a_sell_pays_80_percent_of_points_times_price_and_the_haircut_lifts_the_price() -> None:
    book = _book(480, F(25704, 100))
    holding = Holding(F(112), F(1000))
    after, left, payout = sell(book, holding, F(112), PITCH)
    assert payout == F(8, 10) * 112 * book.price_yuan
    assert after.pool_yuan == 480 - payout
    assert after.circulation == F(25704, 100) - 112
    assert after.price_yuan == after.pool_yuan / after.circulation > book.price_yuan
    assert left == Holding(F(0), F(0))  # emptied: the exit base starts again


def test_a_partial_sell_keeps_the_exit_base() -> None:
    after, left, payout = sell(_book(100, 50), Holding(F(10), F(30)), F(4), PITCH)
    assert (left, payout) == (Holding(F(6), F(30)), F(8, 10) * 4 * 2)
    assert after == Book(100 - payout, F(46), (100 - payout) / 46)


@pytest.mark.parametrize("points", [F(0), F(-1), F(11)])
def test_a_sell_of_nothing_or_more_than_held_is_refused(points: F) -> None:
    with pytest.raises(InvalidEvent):
        sell(_book(100, 50), Holding(F(10), F(30)), points, PITCH)


def test_a_financing_injection_lifts_the_price_for_every_holder() -> None:
    assert inject(_book(480, 240), F(120)) == Book(F(600), F(240), F(600, 240))


def test_at_zero_circulation_the_price_stays_at_the_last_price() -> None:
    book, _, _ = sell(_book(100, 40), Holding(F(40), F(10)), F(40), PITCH)
    assert (book.pool_yuan, book.circulation, book.price_yuan) == (F(20), F(0), F(5, 2))
    assert inject(book, F(30)).price_yuan == F(5, 2)
    # The next buyer is minted at the last price; the leftover pool then lifts the price.
    after, holding = place_order(book, NOBODY, F(100), PITCH)
    assert holding.points == F(112, 10) / F(5, 2)
    assert after.price_yuan == F(36) / holding.points


def test_the_exit_test_is_value_at_least_k_times_spend_before_the_haircut() -> None:
    book = _book(120, 100)  # ¥1.20
    assert reaches_exit(book, Holding(F(100), F(100)), PITCH)  # 120 ≥ 1.2 × 100, exactly
    assert not reaches_exit(book, Holding(F(100), F(100) + F(1, 10**9)), PITCH)
    assert not reaches_exit(book, Holding(F(0), F(0)), PITCH)


def test_a_forced_exit_lifts_the_price_and_carries_the_next_member_over_the_line() -> None:
    book = _book(1000, 100)  # ¥10
    holdings = {"a": Holding(F(60), F(400)), "b": Holding(F(40), F(340)), "c": Holding(F(0), F(0))}
    # a: 600 ≥ 480, out; b: 400 < 408, not yet.
    after, left, exits = forced_exit_sweep(book, holdings, PITCH)
    # a is paid 0.8 × 60 × 10 = 480: pool 520, 40 points, ¥13; b is now worth 520 ≥ 408, out:
    # paid 0.8 × 40 × 13 = 416; pool 104, nothing circulates, the price stays at ¥13.
    assert [(e.member, e.price_yuan, e.payout_yuan) for e in exits] == [
        ("a", F(10), F(480)),
        ("b", F(13), F(416)),
    ]
    assert after == Book(F(104), F(0), F(13))
    assert left["a"] == left["b"] == Holding(F(0), F(0))


def test_the_sweep_sells_the_member_furthest_over_the_line_first() -> None:
    book = _book(1000, 100)
    holdings = {"x": Holding(F(10), F(50)), "y": Holding(F(10), F(20))}  # y triggers at ¥2.40
    _, _, exits = forced_exit_sweep(book, holdings, PITCH)
    assert [e.member for e in exits] == ["y", "x"]


@pytest.mark.parametrize(
    "changes",
    [
        {"platform_bp": 300},  # the commission no longer splits exactly three ways
        {"mint_bp": 0},
        {"sell_payout_bp": 10_001},
        {"exit_multiple_bp": 0},
        {"initial_price_fen": 0},
    ],
)
def test_parameters_the_arithmetic_cannot_run_with_are_refused(changes: dict[str, int]) -> None:
    with pytest.raises(InvalidParameter):
        replace(PITCH, **changes)


_event = st.one_of(
    st.tuples(st.just("order"), st.integers(0, 4), st.integers(1, 5_000)),
    st.tuples(st.just("sell"), st.integers(0, 4), st.integers(1, 100)),
    st.tuples(st.just("inject"), st.just(0), st.integers(0, 10_000)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_event, max_size=25), st.sampled_from([12_000, 20_000]))
def test_any_event_sequence_keeps_pool_equal_to_inflows_minus_payouts(
    events: list[tuple[str, int, int]], k_bp: int
) -> None:
    """Exactly, with Fractions: pool = 16% of orders + injections − payouts; circulation is the
    sum of holdings; price is pool ÷ circulation whenever anything circulates; nobody is left at
    or above the exit multiple after a sweep."""
    params = replace(PITCH, exit_multiple_bp=k_bp)
    book = opening_book(params, F(0))
    holdings = {m: NOBODY for m in range(5)}
    inflow = paid = F(0)
    for kind, member, size in events:
        if kind == "order":
            book, holdings[member] = place_order(book, holdings[member], F(size), params)
            inflow += F(size) * 16 / 100
        elif kind == "sell" and holdings[member].points:
            q = holdings[member].points * min(size, 100) / 100
            book, holdings[member], payout = sell(book, holdings[member], q, params)
            paid += payout
        elif kind == "inject":
            book = inject(book, F(size))
            inflow += size
        book, holdings, exits = forced_exit_sweep(book, holdings, params)
        paid += sum((e.payout_yuan for e in exits), F(0))
        assert book.pool_yuan == inflow - paid >= 0
        assert book.circulation == sum((h.points for h in holdings.values()), F(0))
        if book.circulation:
            assert book.price_yuan == book.pool_yuan / book.circulation
        assert not any(reaches_exit(book, h, params) for h in holdings.values())


# -- the pitch's worked example ------------------------------------------------------------------


def test_the_replay_matches_the_first_three_orders_worked_by_hand() -> None:
    result = replay(PITCH, orders=3, order_amount=1000)
    # 1: pool 160, 112 points at ¥1.00.  2: +78.4 points at 160/112.  3: +66.64 at 320/190.4.
    by_hand = [
        (F(160), F(112)),
        (F(320), F(112) + F(784, 10)),
        (F(480), F(112) + F(784, 10) + F(6664, 100)),
    ]
    assert [row["order"] for row in result.table] == [1, 2, 3]
    for row, (pool, points) in zip(result.table, by_hand, strict=True):
        assert row["price_yuan"] == _six(pool / points)
        assert Decimal(row["pool_yuan"]) == pool
        assert Decimal(row["circulation"]) == points
        assert row["forced_exits"] == 0
    assert result.summary["first_rows"][0]["price_yuan"] == "1.428571"
    assert result.mode == "replay" and result.summary["first_forced_exit"] is None


@pytest.mark.parametrize(
    ("k_bp", "order", "payout"),
    [(12_000, 1137, "960.2172"), (20_000, 6238, "1600.0079")],
)
def test_the_first_forced_exit_is_the_first_member_and_pays_80_percent_of_k(
    k_bp: int, order: int, payout: str
) -> None:
    result = replay(replace(PITCH, exit_multiple_bp=k_bp), orders=order, order_amount=1000)
    first = result.summary["first_forced_exit"]
    assert (first["order"], first["member"], first["payout_yuan"]) == (order, 1, payout)
    assert result.table[order - 1]["exited_members"] == "1"
    assert all(row["forced_exits"] == 0 for row in result.table[: order - 1])


def test_a_higher_exit_multiple_exits_later_and_the_order_amount_does_not_matter() -> None:
    orders = [
        replay(replace(PITCH, exit_multiple_bp=k), orders=2_500, order_amount=amount).summary[
            "first_forced_exit"
        ]
        for k, amount in ((11_000, 1000), (12_000, 1000), (12_000, 37), (13_000, 1000))
    ]
    assert orders[0]["order"] < orders[1]["order"] == orders[2]["order"] < orders[3]["order"]


# -- a population ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generous_run() -> PopulationRun:
    return run_population(GENEROUS, SMALL, seed=11)


def _conserved(run: PopulationRun) -> None:
    assert run.spent_fen + run.financing_fen == (
        run.platform_fen + run.referral_fen + run.merchant_fen + run.pool_fen + run.paid_fen
    )
    assert sum(sum(c.funded_by) for c in run.cohorts) == run.paid_fen
    for cohort in run.cohorts:
        assert sum(cohort.funded_by) == cohort.paid_fen
    assert sum(c.paid_fen for c in run.cohorts) == run.paid_fen
    assert sum(c.spent_fen for c in run.cohorts) == run.spent_fen


def test_a_population_conserves_every_fen_and_traces_every_payout(
    generous_run: PopulationRun,
) -> None:
    run = generous_run
    assert run.forced_exits > 0 and run.sells > 0 and run.financing_fen == 2_000_000
    _conserved(run)
    assert sum(c.members for c in run.cohorts) == SMALL.members
    assert run.daily[-1].members == SMALL.members
    assert run.daily[SMALL.growth_end_day - 1].members == SMALL.members
    assert sum(d.orders for d in run.daily) == run.orders
    assert sum(d.paid_fen for d in run.daily) == run.paid_fen
    prices = [d.price_q for d in run.daily]
    assert prices == sorted(prices)  # 单边上涨: orders, sells and injections only lift it


def test_a_financing_injection_is_an_event_swept_even_on_a_day_without_orders() -> None:
    """Under GENEROUS every order mints its full value, so the price stands still until an
    injection lifts it; here it comes on the last day, when nobody buys any more."""
    quiet = replace(SMALL, plateau_purchase_rate_bp=0, reinvest_bp=0, financing=((119, 20_000),))
    run = run_population(GENEROUS, quiet, seed=11)
    last = run.daily[-1]
    assert last.orders == 0 and last.forced_exits + last.sells > 0
    assert all(d.forced_exits == d.sells == 0 for d in run.daily[:-1])
    _conserved(run)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([PITCH, GENEROUS]))
def test_any_seed_conserves_money_exactly(seed: int, params: AppreciationParams) -> None:
    _conserved(run_population(params, replace(SMALL, members=150, days=90), seed))


def test_a_seed_determines_the_run(generous_run: PopulationRun) -> None:
    assert run_population(GENEROUS, SMALL, seed=11) == generous_run
    assert run_population(GENEROUS, SMALL, seed=12) != generous_run


def test_population_findings_add_up_and_report_progress() -> None:
    seen: list[tuple[int, int]] = []
    result = simulate(GENEROUS, SMALL, 5, on_progress=lambda day, days: seen.append((day, days)))
    assert seen[0] == (1, SMALL.days) and seen[-1] == (SMALL.days, SMALL.days)
    summary = result.summary
    paid = Decimal(summary["totals"]["paid_out_yuan"])
    assert paid > 0
    by_source = sum(
        (Decimal(v) for c in summary["cohorts"] for v in c["funded_by_yuan"].values()), Decimal(0)
    )
    assert by_source == paid
    assert {c.name for c in result.charts} >= {"price_path", "pool", "return_by_cohort"}
    assert "pool" in result.explanation_en and "盈利池" in result.explanation_zh
    assert len(result.table) == SMALL.days
    json.dumps(summary)  # JSON-able as it stands


@pytest.mark.parametrize(
    "changes",
    [
        {"members": 0},
        {"growth_midpoint_day": 61},
        {"sellers_bp": 10_001},
        {"financing": ((120, 1),)},
    ],
)
def test_population_parameters_out_of_bounds_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidParameter):
        replace(SMALL, **changes)


# -- the command ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--orders", "5", "--order-amount", "1000"],
        ["--population", "--members", "200", "--days", "60", "--growth-midpoint-day", "20"],
    ],
)
def test_the_command_prints_the_summary_json_and_writes_the_report(
    args: list[str], tmp_path: Path
) -> None:
    from jifen.lab.cli import lab_app

    result = CliRunner().invoke(lab_app, ["appreciation", *args, "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert "totals" in summary
    assert (tmp_path / "summary.json").exists() and (tmp_path / "report.html").exists()
