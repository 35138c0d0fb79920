"""The "consumption appreciation" (消费增值) mechanics of schemes.md §A, one event at a time.

Pure functions over small frozen values: an order, a sell, a financing injection and a
forced-exit sweep each take a :class:`Book` (pool, points in circulation, price) and holdings
and return new ones, so a test can check that each event moves the pool, the points and the
price exactly as the pitch says. The arithmetic is generic over the exact number type:
:class:`fractions.Fraction` (exact, for tests and short runs) or :class:`decimal.Decimal`
(for long replays, where Fraction denominators grow without bound once forced exits start
compounding: every payout multiplies the sizes of the pool's and the circulation's
denominators together; the caller picks the Decimal context).

Two choices the pitch leaves open, made here once for every mode:

- **Zero circulation.** When the last point leaves circulation, ``pool ÷ points`` is undefined;
  the price *stays at the last price*. The next buyer is then minted at the price the platform
  last showed, and whatever the 20% sell haircuts left in the pool lifts the price on their order.
- **The exit base.** "Cumulative spend" is the spend since the member's holdings were last
  emptied (by a forced exit or a full sale). A forced exit closes a round; a member who
  re-invests starts a new one, which is what the pitch's "re-invest and go again" promises.
  Lifetime spend and lifetime payouts are kept by the engines for the reports.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Generic, TypeVar

from jifen.lab.errors import InvalidEvent, InvalidParameter

__all__ = [
    "BP",
    "AppreciationParams",
    "Book",
    "ForcedExit",
    "Holding",
    "forced_exit_sweep",
    "inject",
    "opening_book",
    "place_order",
    "reaches_exit",
    "sell",
]

BP = 10_000
"""Basis points in one whole: every rate is an int out of this."""

MAX_EXIT_MULTIPLE_BP = 1_000_000
"""100×: a bound on the exit multiple, so no trigger price can run away."""

Num = TypeVar("Num", Fraction, Decimal)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class AppreciationParams:
    """The pitch's numbers (schemes.md §A table), rates in basis points of the order amount.

    ``mint_bp`` is a share of the *pool inflow* (70% of 16% = 11.2% of the order), and
    ``exit_multiple_bp`` is the forced-exit multiple k (12000 = 1.2×, 20000 = 2×).
    """

    commission_bp: int = 2000
    platform_bp: int = 200
    referral_bp: int = 200
    pool_bp: int = 1600
    mint_bp: int = 7000
    sell_payout_bp: int = 8000
    exit_multiple_bp: int = 12000
    initial_price_fen: int = 100

    def __post_init__(self) -> None:
        for name in ("commission_bp", "platform_bp", "referral_bp", "pool_bp"):
            if not 0 <= getattr(self, name) <= BP:
                raise InvalidParameter(f"{name} must be 0..{BP} basis points")
        if self.platform_bp + self.referral_bp + self.pool_bp != self.commission_bp:
            raise InvalidParameter(
                "commission_bp must equal platform_bp + referral_bp + pool_bp "
                "(the commission is split three ways, nothing else)"
            )
        if not 0 < self.mint_bp <= BP:
            raise InvalidParameter(f"mint_bp must be 1..{BP} basis points of pool inflow")
        if not 0 <= self.sell_payout_bp <= BP:
            raise InvalidParameter(f"sell_payout_bp must be 0..{BP} basis points")
        if not 0 < self.exit_multiple_bp <= MAX_EXIT_MULTIPLE_BP:
            raise InvalidParameter(f"exit_multiple_bp must be 1..{MAX_EXIT_MULTIPLE_BP}")
        if not 0 < self.initial_price_fen <= 100_000_000:
            raise InvalidParameter("initial_price_fen must be 1..100,000,000 fen")


@dataclass(frozen=True)
class Book(Generic[Num]):
    """The scheme's whole state outside the members: money in the pool, points out, the price.

    ``price_yuan`` is stored, not derived, because at zero circulation it is the last price.
    """

    pool_yuan: Num
    circulation: Num
    price_yuan: Num


@dataclass(frozen=True)
class Holding(Generic[Num]):
    """A member's points, and their spend since their holdings were last emptied (exit base)."""

    points: Num
    spent_yuan: Num


@dataclass(frozen=True)
class ForcedExit(Generic[K, Num]):
    """One automatic sale of all of a member's points (封顶出局)."""

    member: K
    points: Num
    price_yuan: Num  # the price the points were sold at
    payout_yuan: Num


def opening_book(params: AppreciationParams, zero: Num) -> Book[Num]:
    """The empty scheme at the initial price; ``zero`` picks the number type (Fraction(0) …)."""
    return Book(zero, zero, (zero + params.initial_price_fen) / 100)


def _price(pool_yuan: Num, circulation: Num, last_price: Num) -> Num:
    """``pool ÷ circulation``; the last price when nothing circulates (module docstring)."""
    return pool_yuan / circulation if circulation else last_price


def place_order(
    book: Book[Num], holding: Holding[Num], amount_yuan: Num, params: AppreciationParams
) -> tuple[Book[Num], Holding[Num]]:
    """An order of ``amount_yuan``: pool += 16%·A; buyer gets 11.2%·A ÷ p points at the price
    *before* the order; the price becomes pool ÷ circulation. Returns the new book and holding.
    """
    if amount_yuan <= 0:
        raise InvalidEvent("an order amount must be positive")
    inflow = amount_yuan * params.pool_bp / BP
    minted = inflow * params.mint_bp / BP / book.price_yuan
    pool = book.pool_yuan + inflow
    circulation = book.circulation + minted
    return (
        Book(pool, circulation, _price(pool, circulation, book.price_yuan)),
        Holding(holding.points + minted, holding.spent_yuan + amount_yuan),
    )


def sell(
    book: Book[Num], holding: Holding[Num], points: Num, params: AppreciationParams
) -> tuple[Book[Num], Holding[Num], Num]:
    """A sale of ``points`` at the current price p: paid 80%·q·p out of the pool; q points leave
    circulation; the price becomes pool ÷ circulation. Because the other 20% stays in the pool,
    a sale *raises* the price. Emptying the holding resets its exit base (module docstring).
    Returns the new book, holding and the payout in yuan.
    """
    if not 0 < points <= holding.points:
        raise InvalidEvent("a sale must be of 0 < q ≤ the member's points")
    payout = points * book.price_yuan * params.sell_payout_bp / BP
    pool = book.pool_yuan - payout
    circulation = book.circulation - points
    left = holding.points - points
    return (
        Book(pool, circulation, _price(pool, circulation, book.price_yuan)),
        Holding(left, holding.spent_yuan if left else left),
        payout,
    )


def inject(book: Book[Num], amount_yuan: Num) -> Book[Num]:
    """A financing injection: a lump sum into the pool, which lifts the price for every holder."""
    if amount_yuan < 0:
        raise InvalidEvent("an injection must not be negative")
    pool = book.pool_yuan + amount_yuan
    return Book(pool, book.circulation, _price(pool, book.circulation, book.price_yuan))


def reaches_exit(book: Book[Num], holding: Holding[Num], params: AppreciationParams) -> bool:
    """Holdings worth at least k × spend (before the sell haircut), exactly: points·p·BP ≥ k·S."""
    return bool(holding.points) and (
        holding.points * book.price_yuan * BP >= holding.spent_yuan * params.exit_multiple_bp
    )


def _trigger_price(holding: Holding[Num], params: AppreciationParams) -> Num:
    """The price at which this holding reaches the exit multiple: k × spend ÷ points."""
    return holding.spent_yuan * params.exit_multiple_bp / BP / holding.points


def forced_exit_sweep(
    book: Book[Num], holdings: Mapping[K, Holding[Num]], params: AppreciationParams
) -> tuple[Book[Num], dict[K, Holding[Num]], list[ForcedExit[K, Num]]]:
    """Force-sell everyone at or above the exit multiple, until nobody is.

    Each sale raises the price, which may carry others over the line, so the sweep repeats. Of
    those qualifying, the one with the lowest trigger price (furthest over the line) goes first,
    ties by member key order as given; the engines' heaps pop in the same order (the population
    engine's by trigger prices rounded up to its fixed point). This reference version scans every
    holding per sale (O(members) each); the engines use a heap instead.
    """
    current = dict(holdings)
    exits: list[ForcedExit[K, Num]] = []
    while True:
        due = [
            (_trigger_price(h, params), n, member)
            for n, (member, h) in enumerate(current.items())
            if reaches_exit(book, h, params)
        ]
        if not due:
            return book, current, exits
        _, _, member = min(due, key=lambda item: (item[0], item[1]))
        holding = current[member]
        price = book.price_yuan
        book, current[member], payout = sell(book, holding, holding.points, params)
        exits.append(ForcedExit(member, holding.points, price, payout))
