"""Earning, release, expiry and redemption limits: worked examples and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.rules import (
    EarnQuote,
    RedemptionRefused,
    RuleDocument,
    RulesError,
    check_redemption,
    expires_at,
    quote_earn,
    redemption_limit,
    release_at,
)

SH = ZoneInfo("Asia/Shanghai")
PAID = datetime(2026, 11, 11, 12, 0, tzinfo=SH)


def doc(**changes: Any) -> RuleDocument:
    return RuleDocument().with_changes(**changes)


def campaign(name: str, multiplier_bp: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "starts_at": "2026-11-11T00:00:00+08:00",
        "ends_at": "2026-11-12T00:00:00+08:00",
        "multiplier_bp": multiplier_bp,
        **extra,
    }


MULTIPLIERS = {
    "earn.category_multipliers_bp": {"food": 15000, "odd": 12345},
    "earn.merchant_multipliers_bp": {"m-vip": 20000},
}


def example(
    name: str,
    rules: dict[str, Any],
    amount_fen: int,
    merchant: str,
    category: str,
    expected: EarnQuote,
    *,
    paid_at: datetime = PAID,
    today: int = 0,
) -> Any:
    return pytest.param(rules, amount_fen, merchant, category, paid_at, today, expected, id=name)


WITH_CAMPAIGN = {**MULTIPLIERS, "earn.campaigns": [campaign("双倍", 20000)]}
ONE_CAMPAIGN = {"earn.campaigns": [campaign("c", 30000)]}
MIN_SPEND = {"earn.min_spend_fen": 5_000}
PER_DAY = {"earn.max_points_per_member_per_day": 100}
ONE_X = EarnQuote(10, 10000, None, None)


@pytest.mark.parametrize(
    ("rules", "amount_fen", "merchant", "category", "paid_at", "today", "expected"),
    [
        example("¥100 earns 100", {}, 10_000, "m", "misc", EarnQuote(100, 10000, None, None)),
        example("¥9.99 rounds down to 9", {}, 999, "m", "misc", EarnQuote(9, 10000, None, None)),
        example("¥0.50 earns nothing", {}, 50, "m", "misc", EarnQuote(0, 10000, None, None)),
        example(
            "3 points per yuan on ¥10.50",
            {"earn.points_per_yuan": 3},
            1_050,
            "m",
            "misc",
            EarnQuote(31, 10000, None, None),
        ),
        example("category 1.5×", MULTIPLIERS, 1_000, "m", "food", EarnQuote(15, 15000, None, None)),
        example(
            "merchant beats category",
            MULTIPLIERS,
            1_000,
            "m-vip",
            "food",
            EarnQuote(20, 20000, None, None),
        ),
        example(
            "campaign multiplies the category rate",
            WITH_CAMPAIGN,
            1_000,
            "m",
            "food",
            EarnQuote(30, 30000, "双倍", None),
        ),
        example(
            "campaign rate rounds down: 12345 bp × 1.5 = 18517 bp",
            {**MULTIPLIERS, "earn.campaigns": [campaign("c", 15000)]},
            10_000,
            "m",
            "odd",
            EarnQuote(185, 18517, "c", None),
        ),
        example(
            "the best of several campaigns wins",
            {
                "earn.campaigns": [
                    campaign("x2", 20000),
                    campaign("x3", 30000),
                    campaign("x1.5", 15000),
                ]
            },
            1_000,
            "m",
            "misc",
            EarnQuote(30, 30000, "x3", None),
        ),
        example(
            "a campaign for other categories does not apply",
            {"earn.campaigns": [campaign("food only", 30000, categories=["food"])]},
            1_000,
            "m",
            "misc",
            ONE_X,
        ),
        example(
            "a campaign for other merchants does not apply",
            {"earn.campaigns": [campaign("vip only", 30000, merchants=["m-vip"])]},
            1_000,
            "m",
            "misc",
            ONE_X,
        ),
        example(
            "a campaign is not active before it starts",
            ONE_CAMPAIGN,
            1_000,
            "m",
            "misc",
            ONE_X,
            paid_at=datetime(2026, 11, 10, 23, 59, 59, tzinfo=SH),
        ),
        example(
            "a campaign is not active at its end (half-open window)",
            ONE_CAMPAIGN,
            1_000,
            "m",
            "misc",
            ONE_X,
            paid_at=datetime(2026, 11, 12, tzinfo=SH),
        ),
        example(
            "a campaign is active from its start, whatever the caller's time zone",
            ONE_CAMPAIGN,
            1_000,
            "m",
            "misc",
            EarnQuote(30, 30000, "c", None),
            paid_at=datetime(2026, 11, 10, 16, tzinfo=UTC),
        ),
        example(
            "below the minimum spend earns nothing",
            MIN_SPEND,
            4_999,
            "m",
            "misc",
            EarnQuote(0, 10000, None, "min_spend"),
        ),
        example(
            "exactly the minimum spend earns",
            MIN_SPEND,
            5_000,
            "m",
            "misc",
            EarnQuote(50, 10000, None, None),
        ),
        example(
            "the per-order cap",
            {"earn.max_points_per_order": 30},
            10_000,
            "m",
            "misc",
            EarnQuote(30, 10000, None, "per_order"),
        ),
        example(
            "the per-day cap leaves what is left of today",
            PER_DAY,
            5_000,
            "m",
            "misc",
            EarnQuote(20, 10000, None, "per_member_per_day"),
            today=80,
        ),
        example(
            "a per-day cap already passed leaves nothing",
            PER_DAY,
            5_000,
            "m",
            "misc",
            EarnQuote(0, 10000, None, "per_member_per_day"),
            today=120,
        ),
        example(
            "the per-day cap applies after the per-order cap",
            {**PER_DAY, "earn.max_points_per_order": 30},
            10_000,
            "m",
            "misc",
            EarnQuote(10, 10000, None, "per_member_per_day"),
            today=90,
        ),
        example(
            "zero points per yuan earns nothing",
            {"earn.points_per_yuan": 0},
            10_000,
            "m",
            "misc",
            EarnQuote(0, 10000, None, None),
        ),
    ],
)
def test_earn_worked_examples(
    rules: dict[str, Any],
    amount_fen: int,
    merchant: str,
    category: str,
    paid_at: datetime,
    today: int,
    expected: EarnQuote,
) -> None:
    quote = quote_earn(
        doc(**rules),
        amount_fen=amount_fen,
        merchant_id=merchant,
        category=category,
        paid_at=paid_at,
        earned_today_points=today,
    )
    assert quote == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"paid_at": datetime(2026, 1, 1)},
        {"amount_fen": -1},
        {"earned_today_points": -1},
    ],
)
def test_earn_refuses_a_naive_time_or_a_negative_amount(bad: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "amount_fen": 100,
        "merchant_id": "m",
        "category": "c",
        "paid_at": PAID,
        "earned_today_points": 0,
        **bad,
    }
    with pytest.raises(RulesError) as caught:
        quote_earn(RuleDocument(), **args)
    assert caught.value.code == "rules.invalid_argument"


capped_documents = st.builds(
    lambda ppy, min_spend, per_order, per_day, mult: doc(
        **{
            "earn.points_per_yuan": ppy,
            "earn.min_spend_fen": min_spend,
            "earn.max_points_per_order": per_order,
            "earn.max_points_per_member_per_day": per_day,
            "earn.category_multipliers_bp": {"c": mult},
            "earn.campaigns": [campaign("c", 25000, categories=["c"])],
        }
    ),
    st.integers(0, 100),
    st.integers(0, 10_000),
    st.none() | st.integers(1, 10_000),
    st.none() | st.integers(1, 10_000),
    st.integers(0, 100_000),
)
amounts = st.integers(0, 10**9)


@given(capped_documents, amounts, st.integers(0, 20_000), st.booleans())
def test_earn_never_exceeds_a_cap_and_never_rounds_up(
    document: RuleDocument, amount_fen: int, today: int, in_campaign: bool
) -> None:
    paid_at = PAID if in_campaign else PAID + timedelta(days=1)
    quote = quote_earn(
        document,
        amount_fen=amount_fen,
        merchant_id="m",
        category="c",
        paid_at=paid_at,
        earned_today_points=today,
    )
    earn = document.earn
    assert quote.points >= 0
    if earn.max_points_per_order is not None:
        assert quote.points <= earn.max_points_per_order
    if earn.max_points_per_member_per_day is not None:
        assert quote.points <= max(0, earn.max_points_per_member_per_day - today)
    exact_millionths = amount_fen * earn.points_per_yuan * quote.rate_bp
    assert quote.points * 1_000_000 <= exact_millionths
    if quote.capped_by is None:
        assert exact_millionths < (quote.points + 1) * 1_000_000


@given(capped_documents, amounts, amounts, st.integers(0, 20_000))
def test_earn_is_monotone_in_the_amount(document: RuleDocument, a: int, b: int, today: int) -> None:
    low, high = sorted((a, b))

    def points(amount_fen: int) -> int:
        return quote_earn(
            document,
            amount_fen=amount_fen,
            merchant_id="m",
            category="c",
            paid_at=PAID,
            earned_today_points=today,
        ).points

    assert points(low) <= points(high)


# --- release and expiry -----------------------------------------------------------------------


def test_points_release_after_the_return_window_in_utc() -> None:
    released = release_at(doc(**{"pending.return_window_days": 7}), PAID)
    assert released == datetime(2026, 11, 18, 4, 0, tzinfo=UTC)
    assert released.tzinfo == UTC
    assert release_at(doc(**{"pending.return_window_days": 0}), PAID) == PAID


ROLLING_12 = {"expiry.policy": "rolling", "expiry.months": 12}
PAYBACK = {"expiry.policy": "fixed_month_end", "expiry.months": 36, "expiry.month_of_year": 9}


@pytest.mark.parametrize(
    ("rules", "released_at", "expected_local"),
    [
        # rolling: the end of the Shanghai day N months after release
        (ROLLING_12, datetime(2026, 3, 15, 10, tzinfo=SH), datetime(2027, 3, 16, tzinfo=SH)),
        # 20:00 UTC is already the next day in Shanghai
        (ROLLING_12, datetime(2026, 3, 15, 20, tzinfo=UTC), datetime(2027, 3, 17, tzinfo=SH)),
        # 31 Aug + 6 months clamps to the end of February, leap year or not
        (
            {"expiry.months": 6},
            datetime(2026, 8, 31, 12, tzinfo=SH),
            datetime(2027, 3, 1, tzinfo=SH),
        ),
        (
            {"expiry.months": 6},
            datetime(2027, 8, 31, 12, tzinfo=SH),
            datetime(2028, 3, 1, tzinfo=SH),
        ),
        # Payback-style: 36 months, then to the next 30 September
        (PAYBACK, datetime(2026, 10, 5, 9, tzinfo=SH), datetime(2030, 10, 1, tzinfo=SH)),
        (PAYBACK, datetime(2026, 9, 30, 9, tzinfo=SH), datetime(2029, 10, 1, tzinfo=SH)),
        (PAYBACK, datetime(2026, 3, 1, 9, tzinfo=SH), datetime(2029, 10, 1, tzinfo=SH)),
        # fixed end of February in a leap year is the 29th
        (
            {"expiry.policy": "fixed_month_end", "expiry.months": 12, "expiry.month_of_year": 2},
            datetime(2027, 1, 10, tzinfo=SH),
            datetime(2028, 3, 1, tzinfo=SH),
        ),
    ],
)
def test_expiry_worked_examples(
    rules: dict[str, Any], released_at: datetime, expected_local: datetime
) -> None:
    expiry = expires_at(doc(**rules), released_at)
    assert expiry == expected_local
    assert expiry is not None and expiry.tzinfo == UTC


def test_points_under_the_none_policy_never_expire() -> None:
    assert expires_at(doc(**{"expiry.policy": "none"}), PAID) is None


def test_expiry_refuses_a_naive_release_time() -> None:
    with pytest.raises(RulesError, match="timezone-aware"):
        expires_at(RuleDocument(), datetime(2026, 1, 1))


# --- redemption limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "order_amount_fen", "category", "limit"),
    [
        ({}, 10_000, "misc", 10_000),  # whole ¥100 order payable with 10000 points
        ({"redemption.max_order_share_bp": 5000}, 10_000, "misc", 5_000),
        ({"redemption.max_order_share_bp": 3333}, 1_001, "misc", 333),  # 333.6333 rounds down
        (
            {"point_value.fen_per_point": 3, "issue_price.fen_per_1000_points": 3600},
            10_000,
            "misc",
            3_333,
        ),
        ({"redemption.excluded_categories": ["tobacco"]}, 10_000, "tobacco", 0),
        ({}, 0, "misc", 0),
    ],
)
def test_redemption_limit_worked_examples(
    rules: dict[str, Any], order_amount_fen: int, category: str, limit: int
) -> None:
    assert (
        redemption_limit(doc(**rules), order_amount_fen=order_amount_fen, category=category)
        == limit
    )


LIMITED = {
    "redemption.min_points": 100,
    "redemption.max_order_share_bp": 5000,
    "redemption.excluded_categories": ["tobacco"],
}


@pytest.mark.parametrize(
    ("points", "category", "code", "context_key", "context_value"),
    [
        (99, "misc", "redemption.below_minimum", "min_points", 100),
        (5_001, "misc", "redemption.over_order_share", "limit_points", 5_000),
        (100, "tobacco", "redemption.category_excluded", "category", "tobacco"),
    ],
)
def test_a_redemption_over_a_limit_is_refused_naming_the_limit(
    points: int, category: str, code: str, context_key: str, context_value: Any
) -> None:
    with pytest.raises(RedemptionRefused) as caught:
        check_redemption(doc(**LIMITED), points=points, order_amount_fen=10_000, category=category)
    assert caught.value.code == code
    assert caught.value.status == 422
    assert caught.value.context[context_key] == context_value


@pytest.mark.parametrize("points", [100, 5_000])
def test_a_redemption_within_the_limits_passes(points: int) -> None:
    check_redemption(doc(**LIMITED), points=points, order_amount_fen=10_000, category="misc")


@given(st.integers(0, 10**9), st.integers(1, 10_000), st.integers(1, 100))
def test_the_redemption_limit_never_pays_more_than_the_allowed_share(
    order_amount_fen: int, share_bp: int, fen_per_point: int
) -> None:
    document = doc(
        **{
            "redemption.max_order_share_bp": share_bp,
            "point_value.fen_per_point": fen_per_point,
            "issue_price.fen_per_1000_points": fen_per_point * 1000,
        }
    )
    limit = redemption_limit(document, order_amount_fen=order_amount_fen, category="c")
    assert limit * fen_per_point * 10_000 <= order_amount_fen * share_bp
    assert (limit + 1) * fen_per_point * 10_000 > order_amount_fen * share_bp
