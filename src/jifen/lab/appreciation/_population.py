"""The appreciation scheme with a realistic population: members join on a logistic curve, buy
at random intervals, some sell when up, everyone is force-sold at the exit multiple.

Same mechanics as :mod:`appreciation_core`, in integers for speed (100,000 members × 720 days
in seconds, not hours):

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

The engine's state is mutable lists local to :func:`run_population`; from outside the function is
pure: same parameters and seed, same result. No clock, no I/O.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jifen.lab.appreciation._core import BP, AppreciationParams
from jifen.lab.errors import InvalidParameter

__all__ = [
    "COHORT_DAYS",
    "MICRO",
    "CohortStats",
    "DayStats",
    "PopulationParams",
    "PopulationRun",
    "ProgressCallback",
    "Q",
    "run_population",
]

FEN = 100
MICRO = 10**6
"""Micro-points per point: points are integers in millionths."""
Q = 10**9
"""Fixed-point scale of ``price_q`` (fen per point × Q)."""
COHORT_DAYS = 30
"""A cohort is the members who joined in the same 30-day bucket ("join month")."""
MAX_MEMBERS = 10_000_000
MAX_DAYS = 3_650
MAX_ORDER_YUAN = 10_000_000
"""Lognormal draws above this are capped: a bound, not a behaviour (≈ never at pitch values)."""

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class PopulationParams:
    """Who joins, how they buy and sell (the pitch says nothing of this; these are assumptions).

    Members join on days ``0 .. 2 × growth_midpoint_day − 1`` following a logistic curve with
    ``growth_steepness`` per day, scaled so exactly ``members`` have joined when growth stops.
    After that, members buy at ``plateau_purchase_rate_bp`` of their earlier rate (10000: as
    often as before; 5000: half as often; 0: never again).
    """

    members: int = 100_000
    days: int = 720
    growth_midpoint_day: int = 180
    growth_steepness: float = 0.03
    mean_days_between_purchases: float = 30.0
    plateau_purchase_rate_bp: int = 10_000
    amount_median_yuan: int = 200
    amount_sigma: float = 0.8
    sellers_bp: int = 3_000
    sell_margin_bp: int = 1_000
    reinvest_bp: int = 5_000
    financing: tuple[tuple[int, int], ...] = ()  # (day, yuan) lump sums into the pool

    def __post_init__(self) -> None:
        if not 1 <= self.members <= MAX_MEMBERS:
            raise InvalidParameter(f"members must be 1..{MAX_MEMBERS:,}")
        if not 1 <= self.days <= MAX_DAYS:
            raise InvalidParameter(f"days must be 1..{MAX_DAYS}")
        if not (self.growth_midpoint_day >= 1 and 2 * self.growth_midpoint_day <= self.days):
            raise InvalidParameter(
                "growth_midpoint_day must be 1..days/2 (growth must stop in the run)"
            )
        if not 0 < self.growth_steepness <= 10:
            raise InvalidParameter("growth_steepness must be in (0, 10] per day")
        if not 1 <= self.mean_days_between_purchases <= MAX_DAYS:
            raise InvalidParameter(f"mean_days_between_purchases must be 1..{MAX_DAYS}")
        if not 1 <= self.amount_median_yuan <= MAX_ORDER_YUAN:
            raise InvalidParameter(f"amount_median_yuan must be 1..{MAX_ORDER_YUAN:,}")
        if not 0 <= self.amount_sigma <= 5:
            raise InvalidParameter("amount_sigma must be 0..5")
        for name in ("plateau_purchase_rate_bp", "sellers_bp", "reinvest_bp"):
            if not 0 <= getattr(self, name) <= BP:
                raise InvalidParameter(f"{name} must be 0..{BP} basis points")
        if not 0 <= self.sell_margin_bp <= 100 * BP:
            raise InvalidParameter(f"sell_margin_bp must be 0..{100 * BP}")
        for day, yuan in self.financing:
            if not (0 <= day < self.days and 0 <= yuan <= 10**12):
                raise InvalidParameter(
                    "financing must be (day in 0..days-1, yuan in 0..10^12) pairs"
                )

    @property
    def growth_end_day(self) -> int:
        """The first day nobody joins any more."""
        return 2 * self.growth_midpoint_day


@dataclass(frozen=True)
class CohortStats:
    """One join month's members, in exact integers. ``funded_by[j]`` is the fen of their payouts
    drawn from cohort j's orders; the last entry is financing."""

    cohort: int
    members: int
    spent_fen: int
    paid_fen: int
    reached_exit: int
    points_micro: int  # still held at the end
    funded_by: tuple[int, ...]


@dataclass(frozen=True)
class DayStats:
    """End-of-day figures: the chart series and the per-day table."""

    day: int
    members: int  # joined so far
    orders: int
    price_q: int
    pool_fen: int
    inflow_fen: int  # into the pool from orders today
    paid_fen: int
    forced_exits: int
    sells: int


@dataclass(frozen=True)
class PopulationRun:
    """Everything a population run found, in exact integers (fen, micro-points, price_q)."""

    params: AppreciationParams
    population: PopulationParams
    seed: int
    orders: int
    reinvest_orders: int
    spent_fen: int
    platform_fen: int
    referral_fen: int
    merchant_fen: int
    financing_fen: int
    paid_fen: int
    pool_fen: int
    circulation_micro: int
    price_q: int
    forced_exits: int
    sells: int
    reached_exit: int
    paid_beyond_own_inflow_fen: int  # payouts beyond the payee's own unreturned pool inflow
    cohorts: tuple[CohortStats, ...]
    daily: tuple[DayStats, ...]


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


def run_population(
    params: AppreciationParams,
    population: PopulationParams,
    seed: int,
    on_progress: ProgressCallback | None = None,
) -> PopulationRun:
    """Run the population day by day; ``on_progress(day, days)`` after each day."""
    rng = random.Random(seed)
    days = population.days
    cohorts = (days + COHORT_DAYS - 1) // COHORT_DAYS
    financing_source = cohorts  # index of the financing balance in the pool's composition
    mq = MICRO * Q
    k_bp = params.exit_multiple_bp
    seller_multiple_bp = min(k_bp, BP + population.sell_margin_bp)
    injections = [0] * days
    for day, yuan in population.financing:
        injections[day] += yuan * FEN
    log_mu = math.log(population.amount_median_yuan)
    sigma = population.amount_sigma

    def gap_log(mean_days: float) -> float | None:
        """log(1 − 1/mean) for geometric gaps with that mean; None: buy every day (mean 1)."""
        return math.log1p(-1.0 / mean_days) if mean_days > 1 else None

    growth_log = gap_log(population.mean_days_between_purchases)
    plateau_mean = (
        population.mean_days_between_purchases * BP / population.plateau_purchase_rate_bp
        if population.plateau_purchase_rate_bp
        else math.inf
    )
    plateau_log = gap_log(plateau_mean) if plateau_mean != math.inf else None

    # Per-member state, in parallel lists indexed by member id (objects would be 5× slower).
    cohort_of: list[int] = []
    seller: list[bool] = []
    spent_round: list[int] = []  # fen since holdings were last emptied: the exit base
    points: list[int] = []  # micro-points
    version: list[int] = []  # bumped on every change, to invalidate stale heap entries
    spent_total: list[int] = []
    paid_total: list[int] = []
    reached: list[bool] = []
    own_in_pool: list[int] = []  # fen the member's orders put in the pool, not yet paid back

    heap: list[tuple[int, int, int]] = []  # (trigger price_q, member, version)
    buckets: list[list[int]] = [[] for _ in range(days)]  # member, or ~member for a re-invest
    source = [0] * (cohorts + 1)  # the pool, by whose money is in it
    funded_by = [[0] * (cohorts + 1) for _ in range(cohorts)]

    pool = circulation = paid = spent = platform = referral = merchant = financing = 0
    price_q = params.initial_price_fen * Q
    orders = reinvest_orders = forced_exits = sells = reached_count = beyond_own = 0
    daily: list[DayStats] = []
    joins = _joins_per_day(population)
    joined = 0

    for day in range(days):
        plateau = day >= population.growth_end_day
        next_log = plateau_log if plateau else growth_log
        buy_again = not plateau or population.plateau_purchase_rate_bp > 0
        today = buckets[day]
        buckets[day] = []  # free as we go
        for _ in range(joins[day]):
            cohort_of.append(day // COHORT_DAYS)
            seller.append(rng.random() * BP < population.sellers_bp)
            spent_round.append(0)
            points.append(0)
            version.append(0)
            spent_total.append(0)
            paid_total.append(0)
            reached.append(False)
            own_in_pool.append(0)
            today.append(joined)
            joined += 1
        rng.shuffle(today)
        day_orders = day_inflow = day_paid = day_exits = day_sells = 0
        # A financing injection is an event too: it comes before the day's orders, then a sweep.
        events: Sequence[int | None] = [None, *today] if injections[day] else today
        for entry in events:
            if entry is None:
                financing += injections[day]
                pool += injections[day]
                source[financing_source] += injections[day]
                if circulation:
                    price_q = pool * mq // circulation
            else:
                member = entry if entry >= 0 else ~entry
                # -- the order (appreciation_core.place_order, in integers) --
                # Whole yuan, ties to even, at least ¥1.
                amount_yuan = round(rng.lognormvariate(log_mu, sigma))
                amount_fen = min(max(amount_yuan, 1), MAX_ORDER_YUAN) * FEN
                to_platform = amount_fen * params.platform_bp // BP
                to_referral = amount_fen * params.referral_bp // BP
                inflow = amount_fen * params.pool_bp // BP
                minted = inflow * params.mint_bp * mq // (BP * price_q)
                spent += amount_fen
                platform += to_platform
                referral += to_referral
                merchant += amount_fen - to_platform - to_referral - inflow
                pool += inflow
                circulation += minted
                if circulation:
                    price_q = pool * mq // circulation
                source[cohort_of[member]] += inflow
                day_inflow += inflow
                day_orders += 1
                own_in_pool[member] += inflow
                spent_round[member] += amount_fen
                spent_total[member] += amount_fen
                held = points[member] = points[member] + minted
                version[member] += 1
                if held:
                    multiple = seller_multiple_bp if seller[member] else k_bp
                    trigger = -(-multiple * spent_round[member] * mq // (BP * held))
                    heapq.heappush(heap, (trigger, member, version[member]))
                if entry >= 0:
                    if buy_again:
                        gap = (
                            1
                            if next_log is None
                            else 1 + int(math.log(1.0 - rng.random()) / next_log)
                        )
                        if day + gap < days:
                            buckets[day + gap].append(member)
                else:
                    reinvest_orders += 1
            # -- the sweep (appreciation_core.forced_exit_sweep, with a heap) --
            while heap and heap[0][0] <= price_q:
                _, out, seen = heapq.heappop(heap)
                if seen != version[out]:
                    continue
                sold = points[out]
                forced = sold * price_q * BP >= k_bp * spent_round[out] * mq
                payout = sold * price_q * params.sell_payout_bp // (mq * BP)
                # Draw the payout from the pool's sources pro rata (largest remainder).
                shares = [payout * balance for balance in source]
                draws = [share // pool for share in shares] if payout else [0] * len(source)
                short = payout - sum(draws)
                if short:
                    by_remainder = sorted(
                        range(len(source)), key=lambda j: (-(shares[j] % pool), j)
                    )
                    for j in by_remainder[:short]:
                        draws[j] += 1
                row = funded_by[cohort_of[out]]
                for j, draw in enumerate(draws):
                    if draw:
                        source[j] -= draw
                        row[j] += draw
                pool -= payout
                circulation -= sold
                if circulation:
                    price_q = pool * mq // circulation
                # Generously, a payout is the payee's own pool money first; the rest is others'.
                own = min(payout, own_in_pool[out])
                own_in_pool[out] -= own
                beyond_own += payout - own
                paid += payout
                paid_total[out] += payout
                day_paid += payout
                points[out] = 0
                spent_round[out] = 0
                version[out] += 1
                if forced:
                    forced_exits += 1
                    day_exits += 1
                    if not reached[out]:
                        reached[out] = True
                        reached_count += 1
                    if day + 1 < days and rng.random() * BP < population.reinvest_bp:
                        buckets[day + 1].append(~out)
                else:
                    sells += 1
                    day_sells += 1
            if len(heap) > 4 * joined + 1024:  # compact: drop stale entries, bound the memory
                heap = [item for item in heap if item[2] == version[item[1]]]
                heapq.heapify(heap)
        orders += day_orders
        daily.append(
            DayStats(
                day, joined, day_orders, price_q, pool, day_inflow, day_paid, day_exits, day_sells
            )
        )
        if on_progress is not None:
            on_progress(day + 1, days)

    assert sum(source) == pool, "the pool's composition must add up to the pool"
    assert spent + financing == platform + referral + merchant + pool + paid, "money conserved"
    members_in, spent_in, paid_in, reached_in, held_in = ([0] * cohorts for _ in range(5))
    for member in range(joined):
        c = cohort_of[member]
        members_in[c] += 1
        spent_in[c] += spent_total[member]
        paid_in[c] += paid_total[member]
        reached_in[c] += reached[member]
        held_in[c] += points[member]
    return PopulationRun(
        params=params,
        population=population,
        seed=seed,
        orders=orders,
        reinvest_orders=reinvest_orders,
        spent_fen=spent,
        platform_fen=platform,
        referral_fen=referral,
        merchant_fen=merchant,
        financing_fen=financing,
        paid_fen=paid,
        pool_fen=pool,
        circulation_micro=circulation,
        price_q=price_q,
        forced_exits=forced_exits,
        sells=sells,
        reached_exit=reached_count,
        paid_beyond_own_inflow_fen=beyond_own,
        cohorts=tuple(
            CohortStats(
                c,
                members_in[c],
                spent_in[c],
                paid_in[c],
                reached_in[c],
                held_in[c],
                tuple(funded_by[c]),
            )
            for c in range(cohorts)
        ),
        daily=tuple(daily),
    )
