"""The integer population engine agrees with the exact core, event by event.

The engine (``jifen.lab.appreciation._engine``) runs the mechanics of schemes.md §A in integers
(fen, micro-points, ``price_q`` = fen per point × Q), every division rounding down; the core
(``_core``: :func:`place_order`, :func:`sell`, :func:`inject`, :func:`reaches_exit`) runs them
exactly, in Fractions. Nothing else checks that the two are the same scheme, so here the engine
is subclassed where every event passes (``order``, ``inject``, ``sell_out``, ``sweep``): before
each event its integer state is converted *exactly* to Fractions and the core's function is
applied to that same state; after the event the engine must hold the core's result rounded down
to its units. Comparing the same state each time keeps the comparison exact (no drift to bound);
what is allowed per event is exactly the rounding the engine documents:

- **order**: the pool is the core's pool rounded down to the fen (the inflow is the only rounding;
  none when the inflow is whole fen); the member's spend is the core's, exactly; the points minted
  are the core's rounded down to the micro-point, less at most what the fraction of a fen of
  inflow dropped would have bought (``0 ≤ core − engine < 1 + dropped_fen × micro-points per fen``);
- **sale** (forced exit or voluntary): the payout is the core's rounded down to the fen, the pool
  is short by exactly that payout, the circulation is the core's exactly, the holding is emptied
  (exit base reset) as the core's is; a sale is a forced exit exactly when the core's
  :func:`reaches_exit` holds on that state, else the member is a seller at their own, lower line;
- **injection**: pool and circulation are the core's exactly;
- **price**, after every event: the core's price rule on the engine's own pool and circulation,
  rounded down to 1/Q fen per point (at zero circulation: unchanged, the last price);
- **sweep**, after every event: nobody is left at or above their line, by the core's test.

Not compared: the order in which one sweep sells members who are all over the line. The engine's
heap orders them by trigger prices rounded up to 1/Q fen per point, the core by exact trigger
prices, so two triggers closer than that may be taken in either order (and a trigger that is off
by 1/Q is below what this test can see).

The parameter sets are small and seeded, chosen so that forced exits (some in cascades), voluntary
sells, re-investment, injections (one at zero circulation) and inflows of a fraction of a fen all
happen; the test asserts that they did, so it cannot pass vacuously.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from fractions import Fraction as F
from math import floor

import pytest

from jifen.lab.appreciation import (
    BP,
    MICRO,
    AppreciationParams,
    Book,
    Holding,
    PopulationParams,
    Q,
    inject,
    place_order,
    reaches_exit,
    run_population,
    sell,
)
from jifen.lab.appreciation._engine import _Engine

FEN_PER_YUAN = 100


class _CheckedEngine(_Engine):
    """The real engine, with the exact core applied to its state around every event."""

    def __init__(self, params: AppreciationParams, population: PopulationParams, seed: int) -> None:
        super().__init__(params, population, seed)
        self.events: Counter[str] = Counter()
        self.exits_in_sweep = 0
        self.max_exits_in_one_sweep = 0

    # -- the engine's integer state, exactly as Fractions (yuan, points, yuan per point) --

    def book(self) -> Book[F]:
        return Book(
            F(self.pool_fen, FEN_PER_YUAN),
            F(self.circulation_micro, MICRO),
            F(self.price_q, FEN_PER_YUAN * Q),
        )

    def holding(self, member: int) -> Holding[F]:
        return Holding(
            F(self.members.points_micro[member], MICRO),
            F(self.members.spent_round_fen[member], FEN_PER_YUAN),
        )

    def check_price(self, last_price_q: int) -> None:
        """The core's price rule (``inject`` of nothing re-prices a book) on the engine's own pool
        and circulation, rounded down to the engine's unit."""
        book = self.book()
        repriced = inject(Book(book.pool_yuan, book.circulation, F(0)), F(0))
        if self.circulation_micro:
            assert self.price_q == floor(repriced.price_yuan * FEN_PER_YUAN * Q)
        else:
            assert self.price_q == last_price_q

    # -- the events --

    def order(self, member: int, amount_fen: int) -> None:
        book, holding, price_q = self.book(), self.holding(member), self.price_q
        pool_before, circulation_before = self.pool_fen, self.circulation_micro
        points_before = self.members.points_micro[member]
        super().order(member, amount_fen)
        exact_book, exact_holding = place_order(
            book, holding, F(amount_fen, FEN_PER_YUAN), self.params
        )
        assert self.pool_fen == floor(exact_book.pool_yuan * FEN_PER_YUAN)
        assert F(self.members.spent_round_fen[member], FEN_PER_YUAN) == exact_holding.spent_yuan
        minted = self.members.points_micro[member] - points_before
        assert self.circulation_micro == circulation_before + minted
        exact_minted = (exact_holding.points - holding.points) * MICRO
        dropped_fen = (exact_book.pool_yuan - book.pool_yuan) * FEN_PER_YUAN - (
            self.pool_fen - pool_before
        )
        micro_per_fen = F(self.params.mint_bp * MICRO * Q, BP * price_q)
        assert 0 <= exact_minted - minted < 1 + dropped_fen * micro_per_fen
        self.events["order"] += 1
        self.events["order with a fraction of a fen dropped"] += dropped_fen > 0
        self.check_price(price_q)

    def inject(self, amount_fen: int) -> None:
        book, price_q = self.book(), self.price_q
        super().inject(amount_fen)
        exact = inject(book, F(amount_fen, FEN_PER_YUAN))
        assert F(self.pool_fen, FEN_PER_YUAN) == exact.pool_yuan
        assert F(self.circulation_micro, MICRO) == exact.circulation
        self.events["injection"] += 1
        self.events["injection at zero circulation"] += not self.circulation_micro
        self.check_price(price_q)
        if self.circulation_micro:
            assert self.price_q == floor(exact.price_yuan * FEN_PER_YUAN * Q)

    def sell_out(self, member: int, day: int) -> None:
        book, holding, price_q = self.book(), self.holding(member), self.price_q
        pool_before, paid_before = self.pool_fen, self.totals.paid_fen
        forced_before = self.totals.forced_exits
        at_exit = reaches_exit(book, holding, self.params)
        at_own_line = reaches_exit(
            book, holding, replace(self.params, exit_multiple_bp=self.seller_multiple_bp)
        )
        super().sell_out(member, day)
        exact_book, exact_holding, exact_payout = sell(book, holding, holding.points, self.params)
        payout = self.totals.paid_fen - paid_before
        assert payout == floor(exact_payout * FEN_PER_YUAN)
        assert self.pool_fen == pool_before - payout
        assert 0 <= F(self.pool_fen, FEN_PER_YUAN) - exact_book.pool_yuan < F(1, FEN_PER_YUAN)
        assert F(self.circulation_micro, MICRO) == exact_book.circulation
        assert self.holding(member) == exact_holding == Holding(F(0), F(0))
        forced = self.totals.forced_exits == forced_before + 1
        assert forced == at_exit
        if not forced:
            assert self.members.seller[member] and at_own_line
        self.events["forced exit" if forced else "voluntary sell"] += 1
        self.exits_in_sweep += forced
        self.check_price(price_q)

    def sweep(self, day: int) -> None:
        self.exits_in_sweep = 0
        super().sweep(day)
        self.max_exits_in_one_sweep = max(self.max_exits_in_one_sweep, self.exits_in_sweep)
        book = self.book()
        own_line = replace(self.params, exit_multiple_bp=self.seller_multiple_bp)
        for member, seller in enumerate(self.members.seller):
            holding = self.holding(member)
            assert not reaches_exit(book, holding, own_line if seller else self.params)


@dataclass(frozen=True)
class _Case:
    name: str
    params: AppreciationParams
    population: PopulationParams
    seed: int


_SMALL = PopulationParams(
    members=120,
    days=90,
    growth_midpoint_day=20,
    growth_steepness=0.15,
    mean_days_between_purchases=5,
    plateau_purchase_rate_bp=5_000,
    amount_median_yuan=100,
    sellers_bp=4_000,
    sell_margin_bp=500,
    reinvest_bp=6_000,
)
CASES = [
    # Every order mints its full value, so only haircuts and financing lift the price: exits
    # and sells within weeks; an injection on day 0 finds nothing in circulation.
    _Case(
        "generous",
        AppreciationParams(
            commission_bp=10_000, platform_bp=0, referral_bp=0, pool_bp=10_000, mint_bp=10_000
        ),
        replace(_SMALL, financing=((0, 500), (30, 5_000), (60, 8_000))),
        11,
    ),
    # 15.5% into the pool: an odd-yuan order's inflow is a fraction of a fen, rounded down. A
    # large injection carries everyone over the line at once (a cascade that empties the
    # circulation), and the second one finds nothing in circulation.
    _Case(
        "odd pool share, big injections",
        AppreciationParams(commission_bp=1_950, pool_bp=1_550, mint_bp=9_000, sell_payout_bp=7_777),
        replace(_SMALL, financing=((20, 200_000), (60, 500_000))),
        3,
    ),
    # The 2× variant with most members selling at +5%, amounts spread widely.
    _Case(
        "2x exit, many sellers",
        AppreciationParams(
            commission_bp=10_000,
            platform_bp=0,
            referral_bp=0,
            pool_bp=10_000,
            mint_bp=9_500,
            exit_multiple_bp=20_000,
            initial_price_fen=37,
        ),
        replace(_SMALL, sellers_bp=8_000, amount_sigma=1.5, financing=((50, 20_000),)),
        5,
    ),
    # Exactly on the line: one member joins on day 0 and buys ¥100 every day at ¥1.00 (every
    # order mints its full value, so the price holds). ¥40 of financing, day 2's first event,
    # lifts the price to exactly ¥240 ÷ 200 points = ¥1.20: their points are worth exactly 1.2 ×
    # their spend, which is a forced exit (value ≥ k × spend, not >).
    _Case(
        "exactly on the line",
        AppreciationParams(
            commission_bp=10_000, platform_bp=0, referral_bp=0, pool_bp=10_000, mint_bp=10_000
        ),
        PopulationParams(
            members=1,
            days=4,
            growth_midpoint_day=1,
            mean_days_between_purchases=1,
            amount_median_yuan=100,
            amount_sigma=0,
            sellers_bp=0,
            reinvest_bp=10_000,
            financing=((2, 40),),
        ),
        1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_event_of_the_population_engine_is_the_exact_core_rounded_down(case: _Case) -> None:
    engine = _CheckedEngine(case.params, case.population, case.seed)
    checked = engine.run(None)
    # The checked run is the real run: subclassing observed it without changing it.
    assert checked == run_population(case.params, case.population, case.seed)
    events = engine.events
    assert events["order"] == checked.orders > 0
    assert events["forced exit"] == checked.forced_exits > 0
    assert events["voluntary sell"] == checked.sells
    assert events["injection"] == len(case.population.financing)
    assert checked.reinvest_orders > 0


def test_the_cases_reach_every_kind_of_event() -> None:
    """Across the parameter sets, each rule above is exercised, not just stated."""
    seen: Counter[str] = Counter()
    cascades = 0
    for case in CASES:
        engine = _CheckedEngine(case.params, case.population, case.seed)
        engine.run(None)
        seen.update(engine.events)
        cascades = max(cascades, engine.max_exits_in_one_sweep)
    for kind in (
        "order",
        "order with a fraction of a fen dropped",
        "forced exit",
        "voluntary sell",
        "injection",
        "injection at zero circulation",
    ):
        assert seen[kind] > 0, kind
    assert cascades >= 2
