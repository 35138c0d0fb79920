"""The engine of a population run (``_population``): members join on a logistic curve, buy at
random intervals, some sell when up, everyone is force-sold at the exit multiple.

The same mechanics as ``_core``, in integers for speed (100,000 members × 720 days in seconds,
not hours):

- money in **fen**; points in **micro-points** (:data:`MICRO` per point);
- the price as a fixed point, ``price_q`` = fen per point × :data:`Q`;
- every division **rounds down** (floor): the price (so price × circulation never exceeds the
  pool), the points minted (the buyer gets the fraction of a micro-point less) and every payout
  (the fraction of a fen stays in the pool). So the pool can never go negative and money is
  conserved exactly: spent + financing = platform + referral + merchant-retained + pool + paid.

Forced exits use a min-heap of per-member trigger prices (holdings value ≥ m × spend ⇔
``price_q ≥ ceil(m × spend × MICRO × Q ÷ points)``), with lazy invalidation by a per-member
version number, so a sweep costs O(log n) per exit, not O(members) per event. A voluntary
seller's trigger is the lower of the exit multiple and (1 + margin); both sell everything.

Where the money comes from is tracked, not guessed: the pool is a sum of per-source balances
(one per joining cohort, whose orders put the money in, plus one for financing), and every payout
draws from them pro rata to the pool's composition at that moment (largest remainder, so the
draws are whole fen and add up to the payout exactly).

The engine's state is mutable, private to one :class:`_Engine`, which lives for one run; from
outside, :func:`run_population` is pure: same parameters and seed, same result. No clock, no I/O.

Why this module is long: the population engine is one loop over days whose steps (join, order,
inject, sweep, sell, pay) share its integer state; each step is its own short method.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from jifen.lab.appreciation._core import BP, AppreciationParams
from jifen.lab.appreciation._population import (
    COHORT_DAYS,
    FEN,
    MAX_ORDER_YUAN,
    MICRO,
    CohortStats,
    DayStats,
    PopulationParams,
    PopulationRun,
    ProgressCallback,
    Q,
)

__all__ = ["run_population"]


def _joins_per_day(population: PopulationParams) -> list[int]:
    """New members per day: a logistic curve between day 0 and the end of growth, rescaled so the
    cumulative count is 0 at the start and exactly ``members`` at the end (rounded half-even
    on the cumulative count, so per-day counts add up exactly)."""
    mid, steep = population.growth_midpoint_day, population.growth_steepness
    end = population.growth_end_day

    def curve(day: float) -> float:
        return 1.0 / (1.0 + math.exp(-steep * (day - mid)))

    low, high = curve(0), curve(end)
    cumulative = [round(population.members * (curve(d) - low) / (high - low)) for d in range(end)]
    cumulative.append(population.members)
    joins = [cumulative[d + 1] - cumulative[d] for d in range(end)]
    return joins + [0] * (population.days - end)


def _gap_log(mean_days: float) -> float | None:
    """log(1 − 1/mean) for geometric gaps between purchases with that mean; None: buy every day
    (mean 1) or never (an infinite mean)."""
    return math.log1p(-1.0 / mean_days) if 1 < mean_days < math.inf else None


def _draw(payout_fen: int, source_fen: Sequence[int], pool_fen: int) -> list[int]:
    """Split a payout across the pool's sources pro rata to their balances, in whole fen: floor
    each share, then give the fen still missing to the largest remainders (ties: lowest index),
    so the draws add up to the payout exactly."""
    if not payout_fen:
        return [0] * len(source_fen)
    shares = [payout_fen * balance for balance in source_fen]
    draws = [share // pool_fen for share in shares]
    short = payout_fen - sum(draws)
    if short:
        by_remainder = sorted(range(len(shares)), key=lambda j: (-(shares[j] % pool_fen), j))
        for j in by_remainder[:short]:
            draws[j] += 1
    return draws


@dataclass(slots=True)
class _Members:
    """Per-member state in parallel lists indexed by member id (objects would be 5× slower)."""

    cohort: list[int] = field(default_factory=list)
    seller: list[bool] = field(default_factory=list)
    spent_round_fen: list[int] = field(default_factory=list)  # since last emptied: the exit base
    points_micro: list[int] = field(default_factory=list)
    version: list[int] = field(default_factory=list)  # bumped on every change (stale heap items)
    spent_fen: list[int] = field(default_factory=list)
    paid_fen: list[int] = field(default_factory=list)
    reached: list[bool] = field(default_factory=list)
    own_in_pool_fen: list[int] = field(default_factory=list)  # own pool inflow not yet paid back

    def add(self, cohort: int, seller: bool) -> int:
        """A new member with nothing; returns their id."""
        self.cohort.append(cohort)
        self.seller.append(seller)
        for column in (
            self.spent_round_fen,
            self.points_micro,
            self.version,
            self.spent_fen,
            self.paid_fen,
            self.own_in_pool_fen,
        ):
            column.append(0)
        self.reached.append(False)
        return len(self.cohort) - 1


@dataclass(slots=True)
class _Totals:
    """The run's running totals (integers: fen, or counts)."""

    spent_fen: int = 0
    platform_fen: int = 0
    referral_fen: int = 0
    merchant_fen: int = 0
    financing_fen: int = 0
    paid_fen: int = 0
    orders: int = 0
    reinvest_orders: int = 0
    forced_exits: int = 0
    sells: int = 0
    reached_exit: int = 0
    paid_beyond_own_inflow_fen: int = 0


@dataclass(slots=True)
class _Today:
    """One day's counters, for its :class:`DayStats`."""

    orders: int = 0
    inflow_fen: int = 0
    paid_fen: int = 0
    forced_exits: int = 0
    sells: int = 0


class _Engine:
    """The population's state and the events that change it: :mod:`_core`'s mechanics in
    integers, every division rounding down (module docstring).

    Every event goes through :meth:`order`, :meth:`inject` or :meth:`sell_out`, and every sweep
    through :meth:`sweep`; the differential test subclasses the engine there to check each event
    against the exact core applied to the same integer state. The book (``pool_fen``,
    ``circulation_micro``, ``price_q``) is plain attributes, read by the test.
    """

    def __init__(self, params: AppreciationParams, population: PopulationParams, seed: int) -> None:
        self.params, self.population = params, population
        self.seed, self.rng = seed, random.Random(seed)
        days = population.days
        self.cohorts = (days + COHORT_DAYS - 1) // COHORT_DAYS
        self.seller_multiple_bp = min(params.exit_multiple_bp, BP + population.sell_margin_bp)
        self.injections_fen = [0] * days
        for day, yuan in population.financing:
            self.injections_fen[day] += yuan * FEN
        self.log_mu = math.log(population.amount_median_yuan)
        self.growth_log = _gap_log(population.mean_days_between_purchases)
        rate_bp = population.plateau_purchase_rate_bp
        mean = population.mean_days_between_purchases
        self.plateau_log = _gap_log(mean * BP / rate_bp if rate_bp else math.inf)
        self.joins = _joins_per_day(population)
        self.members = _Members()
        self.heap: list[tuple[int, int, int]] = []  # (trigger price_q, member, version)
        self.buckets: list[list[int]] = [[] for _ in range(days)]  # member; ~member: re-invest
        self.source_fen = [0] * (self.cohorts + 1)  # the pool by whose money it is; last: financing
        self.funded_by = [[0] * (self.cohorts + 1) for _ in range(self.cohorts)]
        self.pool_fen = self.circulation_micro = 0
        self.price_q = params.initial_price_fen * Q
        self.totals = _Totals()
        self.today = _Today()
        self.daily: list[DayStats] = []

    def run(self, on_progress: ProgressCallback | None) -> PopulationRun:
        days = self.population.days
        for day in range(days):
            self.run_day(day)
            if on_progress is not None:
                on_progress(day + 1, days)
        return self.result()

    def run_day(self, day: int) -> None:
        """New members join; a financing injection, if any, is the day's first event, then the
        day's buyers order in random order; a sweep follows every event."""
        plateau = day >= self.population.growth_end_day
        next_log = self.plateau_log if plateau else self.growth_log
        buy_again = not plateau or self.population.plateau_purchase_rate_bp > 0
        today = self._join(day)
        self.today = _Today()
        if self.injections_fen[day]:
            self.inject(self.injections_fen[day])
            self._after_event(day)
        for entry in today:
            member = entry if entry >= 0 else ~entry
            self.order(member, self._amount_fen())
            if entry < 0:
                self.totals.reinvest_orders += 1
            elif buy_again:
                self._schedule(member, day, next_log)
            self._after_event(day)
        counts = self.today
        self.totals.orders += counts.orders
        self.daily.append(
            DayStats(
                day,
                len(self.members.cohort),
                counts.orders,
                self.price_q,
                self.pool_fen,
                counts.inflow_fen,
                counts.paid_fen,
                counts.forced_exits,
                counts.sells,
            )
        )

    def _join(self, day: int) -> list[int]:
        """Today's buyers, shuffled: those scheduled for today, then today's new members."""
        today, self.buckets[day] = self.buckets[day], []  # free as we go
        sellers_bp = self.population.sellers_bp
        for _ in range(self.joins[day]):
            seller = self.rng.random() * BP < sellers_bp
            today.append(self.members.add(day // COHORT_DAYS, seller))
        self.rng.shuffle(today)
        return today

    def _amount_fen(self) -> int:
        """A lognormal order in whole yuan (ties to even), at least ¥1, capped."""
        amount_yuan = round(self.rng.lognormvariate(self.log_mu, self.population.amount_sigma))
        return min(max(amount_yuan, 1), MAX_ORDER_YUAN) * FEN

    def _schedule(self, member: int, day: int, next_log: float | None) -> None:
        """The member's next purchase after a geometric gap, if it falls within the run."""
        gap = 1 if next_log is None else 1 + int(math.log(1.0 - self.rng.random()) / next_log)
        if day + gap < self.population.days:
            self.buckets[day + gap].append(member)

    def _after_event(self, day: int) -> None:
        self.sweep(day)
        if len(self.heap) > 4 * len(self.members.cohort) + 1024:  # drop stale entries
            version = self.members.version
            self.heap = [item for item in self.heap if item[2] == version[item[1]]]
            heapq.heapify(self.heap)

    def _set_price(self) -> None:
        """pool ÷ circulation, rounded down; the last price when nothing circulates."""
        if self.circulation_micro:
            self.price_q = self.pool_fen * MICRO * Q // self.circulation_micro

    def order(self, member: int, amount_fen: int) -> None:
        """:func:`_core.place_order` in integers: the commission split, the pool inflow, the
        points minted at the price before the order; then the member's new trigger price."""
        params, members, totals = self.params, self.members, self.totals
        to_platform = amount_fen * params.platform_bp // BP
        to_referral = amount_fen * params.referral_bp // BP
        inflow = amount_fen * params.pool_bp // BP
        minted = inflow * params.mint_bp * MICRO * Q // (BP * self.price_q)
        totals.spent_fen += amount_fen
        totals.platform_fen += to_platform
        totals.referral_fen += to_referral
        totals.merchant_fen += amount_fen - to_platform - to_referral - inflow
        self.pool_fen += inflow
        self.circulation_micro += minted
        self._set_price()
        self.source_fen[members.cohort[member]] += inflow
        self.today.inflow_fen += inflow
        self.today.orders += 1
        members.own_in_pool_fen[member] += inflow
        members.spent_round_fen[member] += amount_fen
        members.spent_fen[member] += amount_fen
        held = members.points_micro[member] = members.points_micro[member] + minted
        members.version[member] += 1
        if held:
            multiple_bp = (
                self.seller_multiple_bp if members.seller[member] else params.exit_multiple_bp
            )
            spent = members.spent_round_fen[member]
            trigger = -(-multiple_bp * spent * MICRO * Q // (BP * held))  # ceiling
            heapq.heappush(self.heap, (trigger, member, members.version[member]))

    def inject(self, amount_fen: int) -> None:
        """:func:`_core.inject` in integers: financing into the pool, which lifts the price."""
        self.totals.financing_fen += amount_fen
        self.pool_fen += amount_fen
        self.source_fen[self.cohorts] += amount_fen
        self._set_price()

    def sweep(self, day: int) -> None:
        """:func:`_core.forced_exit_sweep` with a heap: sell out everyone whose trigger price the
        price has reached (lowest trigger first, ties by member id) until nobody's has."""
        heap, version = self.heap, self.members.version
        while heap and heap[0][0] <= self.price_q:
            _, member, seen = heapq.heappop(heap)
            if seen == version[member]:
                self.sell_out(member, day)

    def sell_out(self, member: int, day: int) -> None:
        """:func:`_core.sell` of all the member's points, in integers: a forced exit if they are
        at the exit multiple (then perhaps a re-investment tomorrow), else a voluntary sale."""
        members, totals = self.members, self.totals
        sold = members.points_micro[member]
        forced = (
            sold * self.price_q * BP
            >= self.params.exit_multiple_bp * members.spent_round_fen[member] * MICRO * Q
        )
        payout = sold * self.price_q * self.params.sell_payout_bp // (MICRO * Q * BP)
        self._pay(member, payout)
        self.circulation_micro -= sold
        self._set_price()
        members.points_micro[member] = members.spent_round_fen[member] = 0
        members.version[member] += 1
        if not forced:
            totals.sells += 1
            self.today.sells += 1
            return
        totals.forced_exits += 1
        self.today.forced_exits += 1
        if not members.reached[member]:
            members.reached[member] = True
            totals.reached_exit += 1
        if day + 1 < self.population.days and self.rng.random() * BP < self.population.reinvest_bp:
            self.buckets[day + 1].append(~member)

    def _pay(self, member: int, payout_fen: int) -> None:
        """Take a payout out of the pool, drawn from its sources pro rata; generously, the payee's
        own unreturned inflow counts first, the rest is other people's money."""
        members, totals = self.members, self.totals
        draws = _draw(payout_fen, self.source_fen, self.pool_fen)
        row = self.funded_by[members.cohort[member]]
        for j, draw in enumerate(draws):
            if draw:
                self.source_fen[j] -= draw
                row[j] += draw
        self.pool_fen -= payout_fen
        own = min(payout_fen, members.own_in_pool_fen[member])
        members.own_in_pool_fen[member] -= own
        totals.paid_beyond_own_inflow_fen += payout_fen - own
        totals.paid_fen += payout_fen
        members.paid_fen[member] += payout_fen
        self.today.paid_fen += payout_fen

    def result(self) -> PopulationRun:
        """The run's figures, after checking that money is conserved and fully traced."""
        totals = self.totals
        assert sum(self.source_fen) == self.pool_fen, "the pool's composition must add up"
        assert totals.spent_fen + totals.financing_fen == (
            totals.platform_fen
            + totals.referral_fen
            + totals.merchant_fen
            + self.pool_fen
            + totals.paid_fen
        ), "money conserved"
        return PopulationRun(
            params=self.params,
            population=self.population,
            seed=self.seed,
            orders=totals.orders,
            reinvest_orders=totals.reinvest_orders,
            spent_fen=totals.spent_fen,
            platform_fen=totals.platform_fen,
            referral_fen=totals.referral_fen,
            merchant_fen=totals.merchant_fen,
            financing_fen=totals.financing_fen,
            paid_fen=totals.paid_fen,
            pool_fen=self.pool_fen,
            circulation_micro=self.circulation_micro,
            price_q=self.price_q,
            forced_exits=totals.forced_exits,
            sells=totals.sells,
            reached_exit=totals.reached_exit,
            paid_beyond_own_inflow_fen=totals.paid_beyond_own_inflow_fen,
            cohorts=self._cohort_stats(),
            daily=tuple(self.daily),
        )

    def _cohort_stats(self) -> tuple[CohortStats, ...]:
        members = self.members
        size, spent, paid, reached, held = ([0] * self.cohorts for _ in range(5))
        for member, c in enumerate(members.cohort):
            size[c] += 1
            spent[c] += members.spent_fen[member]
            paid[c] += members.paid_fen[member]
            reached[c] += members.reached[member]
            held[c] += members.points_micro[member]
        return tuple(
            CohortStats(
                c, size[c], spent[c], paid[c], reached[c], held[c], tuple(self.funded_by[c])
            )
            for c in range(self.cohorts)
        )


def run_population(
    params: AppreciationParams,
    population: PopulationParams,
    seed: int,
    on_progress: ProgressCallback | None = None,
) -> PopulationRun:
    """Run the population day by day; ``on_progress(day, days)`` after each day."""
    return _Engine(params, population, seed).run(on_progress)
