"""The appreciation scheme with a realistic population: what a run is asked
(:class:`PopulationParams`: who joins, how they buy and sell) and what it finds
(:class:`PopulationRun`), in exact integers: money in fen, points in micro-points (:data:`MICRO`
per point), the price as ``price_q`` = fen per point × :data:`Q`. The engine that runs it is
``_engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jifen.lab.appreciation._core import BP, AppreciationParams
from jifen.lab.errors import InvalidParameter

__all__ = [
    "COHORT_DAYS",
    "FEN",
    "MAX_ORDER_YUAN",
    "MICRO",
    "CohortStats",
    "DayStats",
    "PopulationParams",
    "PopulationRun",
    "ProgressCallback",
    "Q",
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
