"""Pure lot rules (no database): which lot a spend draws from, and how much a refund claws back.

Spending draws from the lot that expires first; lots without expiry go last; ties go to the oldest
lot (brief §5). A refund claws back the order's points pro rata by amount, ROUND_DOWN on the
cumulative share (in the member's favour), so partial refunds that add up to the whole order claw
back exactly all of its points.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.ledger import Lot, LotStatus, prorata_clawback
from jifen.ledger.lots import draw, spend_order

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0  # before every expiry in these cases


def lot(
    lot_id: str,
    paid_day: int,
    expires_day: int | None,
    available: int = 10,
    status: LotStatus = LotStatus.RELEASED,
) -> Lot:
    """A released lot paid on day ``paid_day`` of 2026, expiring on ``expires_day`` (or never)."""
    paid = T0 + timedelta(days=paid_day)
    return Lot(
        lot_id=lot_id,
        member_id="ana",
        merchant_id="tea",
        order_ref=f"order-{lot_id}",
        amount_fen=1_000,
        points=available,
        rule_version=1,
        paid_at=paid,
        release_at=paid + timedelta(days=7),
        expires_at=None if expires_day is None else T0 + timedelta(days=expires_day),
        status=status,
        available=available,
    )


# -- spending order ----------------------------------------------------------------------------

SPEND_ORDER_CASES = [
    # (case, lots as (id, paid day, expiry day or None), expected spending order)
    (
        "earliest expiry first, even when it is the newer lot",
        [("old", 1, 300), ("new", 5, 100)],
        ["new", "old"],
    ),
    (
        "a lot that never expires goes after every lot that does",
        [("forever", 1, None), ("late", 9, 400)],
        ["late", "forever"],
    ),
    (
        "same expiry: the oldest lot first",
        [("b", 5, 100), ("a", 1, 100)],
        ["a", "b"],
    ),
    (
        "two lots that never expire: the oldest first",
        [("young", 5, None), ("elder", 1, None)],
        ["elder", "young"],
    ),
    (
        "same expiry and same day: lot id breaks the tie, so the order is total",
        [("lot-b", 3, 50), ("lot-a", 3, 50)],
        ["lot-a", "lot-b"],
    ),
    (
        "a mixed wallet",
        [("n1", 2, None), ("e200", 1, 200), ("e90", 30, 90), ("n0", 0, None), ("e90old", 10, 90)],
        ["e90old", "e90", "e200", "n0", "n1"],
    ),
]


@pytest.mark.parametrize(
    ("lots", "expected"),
    [pytest.param(lots, expected, id=case) for case, lots, expected in SPEND_ORDER_CASES],
)
def test_spending_draws_the_lot_that_expires_first_then_the_oldest(
    lots: list[tuple[str, int, int | None]], expected: list[str]
) -> None:
    wallet = [lot(i, paid, exp) for i, paid, exp in lots]
    for arrangement in itertools.permutations(wallet):  # the order lots are loaded in is irrelevant
        assert [x.lot_id for x in sorted(arrangement, key=spend_order)] == expected
        assert [x.lot_id for x, _ in draw(arrangement, 10 * len(wallet), NOW)] == expected


DRAW_CASES = [
    # (points asked, expected plan as (lot id, points taken))
    (1, [("soon", 1)]),
    (30, [("soon", 30)]),
    (31, [("soon", 30), ("later", 1)]),
    (80, [("soon", 30), ("later", 50)]),
    (95, [("soon", 30), ("later", 50), ("never", 15)]),
    (100, [("soon", 30), ("later", 50), ("never", 20)]),
    (150, [("soon", 30), ("later", 50), ("never", 20)]),  # short: the caller refuses, not draw
]


@pytest.mark.parametrize(("asked", "plan"), DRAW_CASES)
def test_draw_empties_each_lot_in_spending_order_before_touching_the_next(
    asked: int, plan: list[tuple[str, int]]
) -> None:
    wallet = [
        lot("never", 0, None, available=20),
        lot("later", 1, 200, available=50),
        lot("soon", 2, 100, available=30),
    ]
    assert [(x.lot_id, take) for x, take in draw(wallet, asked, NOW)] == plan


@pytest.mark.parametrize(
    "status", [LotStatus.PENDING, LotStatus.VOIDED, LotStatus.EXPIRED, LotStatus.REVERSED]
)
def test_draw_spends_only_released_lots(status: LotStatus) -> None:
    wallet = [lot("closed", 0, 10, available=40, status=status), lot("open", 5, 300, available=40)]
    assert [(x.lot_id, take) for x, take in draw(wallet, 50, NOW)] == [("open", 40)]


def test_draw_skips_an_emptied_lot() -> None:
    wallet = [lot("empty", 0, 10, available=0), lot("full", 5, 300, available=40)]
    assert [(x.lot_id, take) for x, take in draw(wallet, 5, NOW)] == [("full", 5)]


def test_draw_does_not_change_the_lots() -> None:
    wallet = [lot("a", 0, 10, available=40)]
    draw(wallet, 25, NOW)
    assert wallet[0].available == 40  # the planner applies the plan, draw only proposes it


# -- refund clawback ---------------------------------------------------------------------------

CLAWBACK_CASES = [
    # (case, points earned, order fen, refunded before, this refund, points clawed back)
    ("full refund claws back every point", 100, 10_000, 0, 10_000, 100),
    ("half the order, half the points", 100, 10_000, 0, 5_000, 50),
    ("10 points × 100/300 = 3.33 rounds down to 3", 10, 300, 0, 100, 3),
    ("second third: 6 so far, 3 already taken → 3", 10, 300, 100, 100, 3),
    ("last third takes the remainder: 10 − 6 → 4", 10, 300, 200, 100, 4),
    ("a tiny refund claws nothing", 7, 1_000, 0, 1, 0),
    ("7 × 999/1000 = 6.993: still rounds down", 7, 1_000, 0, 999, 6),
    ("…and the last fen claws the seventh point", 7, 1_000, 999, 1, 1),
    ("one point, order of 3 fen: first fen", 1, 3, 0, 1, 0),
    ("one point, order of 3 fen: second fen", 1, 3, 1, 1, 0),
    ("one point, order of 3 fen: the last fen", 1, 3, 2, 1, 1),
    ("¥128 order, 64 points, ¥64 refunded", 64, 12_800, 0, 6_400, 32),
    ("no overflow at the limits", 10**12, 10**14, 0, 10**14 - 1, 10**12 - 1),
]


@pytest.mark.parametrize(
    ("points", "amount_fen", "before_fen", "refund_fen", "clawed"),
    [pytest.param(*row, id=case) for case, *row in CLAWBACK_CASES],
)
def test_refund_claws_back_pro_rata_by_amount_rounding_down_in_the_members_favour(
    points: int, amount_fen: int, before_fen: int, refund_fen: int, clawed: int
) -> None:
    assert prorata_clawback(points, amount_fen, before_fen, refund_fen) == clawed


SERIES_CASES = [
    # (points, order fen, partial refunds that add up to the whole order)
    (10, 300, [100, 100, 100]),
    (7, 1_000, [333, 333, 334]),
    (99, 9_999, [1, 9_997, 1]),
    (1, 3, [1, 1, 1]),
    (64, 12_800, [6_400, 3_200, 3_200]),
    (101, 997, [1] * 997),
    (10**12, 10**14, [1, 10**14 - 2, 1]),
]


@pytest.mark.parametrize(("points", "amount_fen", "refunds"), SERIES_CASES)
def test_partial_refunds_that_sum_to_the_order_claw_back_exactly_all_its_points(
    points: int, amount_fen: int, refunds: list[int]
) -> None:
    assert sum(refunds) == amount_fen
    before = 0
    total = 0
    for refund in refunds:
        total += prorata_clawback(points, amount_fen, before, refund)
        before += refund
        # ROUND_DOWN: never more than the exact cumulative share, never a whole point less
        assert total * amount_fen <= points * before < (total + 1) * amount_fen
    assert total == points


@given(
    points=st.integers(1, 10**12),
    amount_fen=st.integers(1, 10**14),
    cuts=st.lists(st.floats(0, 1, allow_nan=False), max_size=8),
)
def test_any_series_of_partial_refunds_of_the_whole_order_claws_back_exactly_its_points(
    points: int, amount_fen: int, cuts: list[float]
) -> None:
    marks = sorted({0, amount_fen, *(int(c * amount_fen) for c in cuts)})
    clawed = [
        prorata_clawback(points, amount_fen, lo, hi - lo) for lo, hi in itertools.pairwise(marks)
    ]
    assert all(c >= 0 for c in clawed)
    assert sum(clawed) == points


def test_a_lot_is_unusable_from_the_instant_it_expires_even_before_the_job_burns_it() -> None:
    wallet = [lot("soon", 1, 30, available=10), lot("later", 2, 90, available=10)]
    expiry = T0 + timedelta(days=30)
    just_before = expiry - timedelta(microseconds=1)
    assert [(x.lot_id, t) for x, t in draw(wallet, 15, just_before)] == [("soon", 10), ("later", 5)]
    assert [(x.lot_id, t) for x, t in draw(wallet, 15, expiry)] == [("later", 10)]
