"""Pure request validation (no database): every operation checks its own fields before any write.

Each refusal carries a stable code a caller can act on: ``amount.invalid`` for amounts that are
not whole numbers in range, ``idempotency.malformed_key`` for keys, ``entry.invalid`` for ids,
times and shapes, ``entry.unbalanced`` for a manual entry whose legs do not sum to zero per asset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from jifen.ledger import (
    MAX_LEGS,
    Asset,
    Earn,
    Expire,
    LedgerError,
    Leg,
    Operation,
    Post,
    Redeem,
    Refund,
    Release,
    Reverse,
    Shortfall,
    Void,
)
from jifen.ledger.model import MAX_FEN, MAX_POINTS

T0 = datetime(2026, 3, 1, tzinfo=UTC)
LOT = "0123456789abcdef0123456789abcdef"

VALID: dict[str, Any] = {  # Any: the tests put ill-typed values in on purpose
    "earn": Earn("k", "ana", "tea", "order-1", 12_800, 128, 1, T0, T0 + timedelta(days=7)),
    "release": Release("k", LOT),
    "void": Void("k", LOT),
    "expire": Expire("k", LOT),
    "redeem": Redeem("k", "ana", "books", 50, "order-2"),
    "refund": Refund("k", LOT, 6_400),
    "reverse": Reverse("k", LOT, "entered twice by mistake"),
    "post": Post(
        "k",
        (Leg("system:clearing", Asset.CNY, -500), Leg("merchant:tea:cny", Asset.CNY, 500)),
        "settlement",
    ),
}


def refused(op: Operation) -> str:
    """The code ``op.validate()`` refuses with (fails the test if it accepts)."""
    with pytest.raises(LedgerError) as error:
        op.validate()
    return error.value.code


@pytest.mark.parametrize("op", VALID.values(), ids=VALID.keys())
def test_a_well_formed_operation_is_accepted(op: Operation) -> None:
    op.validate()


# -- amounts -----------------------------------------------------------------------------------

AMOUNT_FIELDS = [
    # (operation, field, its upper limit)
    ("earn", "amount_fen", MAX_FEN),
    ("earn", "points", MAX_POINTS),
    ("earn", "rule_version", 10**9),
    ("redeem", "points", MAX_POINTS),
    ("refund", "refund_fen", MAX_FEN),
]
BAD_AMOUNTS: list[tuple[str, Callable[[int], Any]]] = [
    ("zero", lambda limit: 0),
    ("negative", lambda limit: -1),
    ("very negative", lambda limit: -limit),
    ("True is not 1", lambda limit: True),
    ("False is not 0", lambda limit: False),
    ("one over the limit", lambda limit: limit + 1),
    ("a float", lambda limit: 1.0),
    ("a numeric string", lambda limit: "10"),
    ("None", lambda limit: None),
]


@pytest.mark.parametrize(
    ("kind", "name", "limit"), AMOUNT_FIELDS, ids=[f"{k}.{f}" for k, f, _ in AMOUNT_FIELDS]
)
@pytest.mark.parametrize("bad", [b for _, b in BAD_AMOUNTS], ids=[n for n, _ in BAD_AMOUNTS])
def test_an_amount_that_is_not_a_whole_number_in_range_is_refused(
    kind: str, name: str, limit: int, bad: Callable[[int], Any]
) -> None:
    op = dataclasses.replace(VALID[kind], **{name: bad(limit)})
    assert refused(op) == "amount.invalid"


@pytest.mark.parametrize(
    ("kind", "name", "limit"), AMOUNT_FIELDS, ids=[f"{k}.{f}" for k, f, _ in AMOUNT_FIELDS]
)
@pytest.mark.parametrize("edge", ["one", "the limit"])
def test_amounts_from_one_up_to_the_limit_are_accepted(
    kind: str, name: str, limit: int, edge: str
) -> None:
    value = 1 if edge == "one" else limit
    dataclasses.replace(VALID[kind], **{name: value}).validate()


# -- idempotency keys --------------------------------------------------------------------------

MALFORMED_KEYS = {
    "empty": "",
    "a space": "order 88",
    "only spaces": "   ",
    "129 characters": "k" * 129,
    "Cyrillic": "ключ",
    "Chinese": "订单88",
    "a trailing newline": "order-88\n",
    "a tab": "order\t88",
    "a quote": 'order"88',
    "None": None,
    "a number": 88,
}


@pytest.mark.parametrize("key", MALFORMED_KEYS.values(), ids=MALFORMED_KEYS.keys())
@pytest.mark.parametrize("kind", VALID)
def test_a_malformed_idempotency_key_is_refused_by_every_operation(kind: str, key: Any) -> None:
    assert refused(dataclasses.replace(VALID[kind], key=key)) == "idempotency.malformed_key"


@pytest.mark.parametrize(
    "key", ["k", "k" * 128, "refund:order-88/2@2026-03-01T09:00", "A.b_c-d:e/f@g"]
)
def test_keys_of_the_documented_alphabet_up_to_128_characters_are_accepted(key: str) -> None:
    for op in VALID.values():
        dataclasses.replace(op, key=key).validate()


# -- ids ---------------------------------------------------------------------------------------

ID_FIELDS = [
    ("earn", "member_id"),
    ("earn", "merchant_id"),
    ("earn", "order_ref"),
    ("redeem", "member_id"),
    ("redeem", "merchant_id"),
    ("redeem", "order_ref"),
    ("release", "lot_id"),
    ("void", "lot_id"),
    ("expire", "lot_id"),
    ("refund", "lot_id"),
    ("reverse", "entry_id"),
]
BAD_IDS = {
    "empty": "",
    "a colon (would forge an account name)": "ana:available",
    "a slash": "a/b",
    "a space": "a b",
    "65 characters": "x" * 65,
    "Chinese": "张三",
    "None": None,
    "a number": 7,
}


@pytest.mark.parametrize(("kind", "name"), ID_FIELDS, ids=[f"{k}.{f}" for k, f in ID_FIELDS])
@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_malformed_id_is_refused(kind: str, name: str, bad: Any) -> None:
    assert refused(dataclasses.replace(VALID[kind], **{name: bad})) == "entry.invalid"


# -- times -------------------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 1)


@pytest.mark.parametrize(
    "change",
    [
        {"paid_at": NAIVE},
        {"release_at": NAIVE + timedelta(days=7)},
        {"expires_at": NAIVE + timedelta(days=365)},
        {"paid_at": "2026-03-01T00:00:00Z"},
        {"release_at": None},
    ],
    ids=["naive paid_at", "naive release_at", "naive expires_at", "text paid_at", "no release_at"],
)
def test_earn_times_must_be_timezone_aware_datetimes(change: dict[str, Any]) -> None:
    assert refused(dataclasses.replace(VALID["earn"], **change)) == "entry.invalid"


EARN_WINDOWS = [
    # (release after payment, expiry after payment or None, accepted?)
    (timedelta(days=7), None, True),
    (timedelta(0), None, True),  # no return window: releasable at once
    (timedelta(days=7), timedelta(days=7, microseconds=1), True),
    (-timedelta(microseconds=1), None, False),  # released before it was paid
    (timedelta(days=7), timedelta(days=7), False),  # expires the instant it is released
    (timedelta(days=7), timedelta(days=3), False),  # expires inside the return window
]


@pytest.mark.parametrize(("release_after", "expires_after", "accepted"), EARN_WINDOWS)
def test_a_lot_is_released_after_payment_and_expires_after_release(
    release_after: timedelta, expires_after: timedelta | None, accepted: bool
) -> None:
    op = dataclasses.replace(
        VALID["earn"],
        release_at=T0 + release_after,
        expires_at=None if expires_after is None else T0 + expires_after,
    )
    if accepted:
        op.validate()
    else:
        assert refused(op) == "entry.invalid"


# -- other fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501, None])
def test_a_reversal_needs_a_reason(reason: Any) -> None:
    assert refused(dataclasses.replace(VALID["reverse"], reason=reason)) == "entry.invalid"


def test_a_refund_shortfall_policy_must_be_a_shortfall_member() -> None:
    op = dataclasses.replace(VALID["refund"], shortfall="record_debt")
    assert refused(op) == "entry.invalid"
    for policy in Shortfall:
        dataclasses.replace(VALID["refund"], shortfall=policy).validate()


# -- manual entries ----------------------------------------------------------------------------


def post(*legs: Leg, memo: Any = "settlement") -> Post:
    return Post("k", legs, memo)


CNY_OUT = Leg("system:clearing", Asset.CNY, -500)
CNY_IN = Leg("merchant:tea:cny", Asset.CNY, 500)
PTS_OUT = Leg("system:issuance", Asset.POINTS, -500)
PTS_IN = Leg("merchant:tea:accepted", Asset.POINTS, 500)

UNBALANCED_POSTS = {
    "off by one fen": post(CNY_OUT, dataclasses.replace(CNY_IN, amount=499)),
    "two credits": post(CNY_IN, dataclasses.replace(CNY_IN, account="system:reserve")),
    "zero overall but not per asset": post(CNY_OUT, PTS_IN),
    "one asset balances, the other does not": post(CNY_OUT, CNY_IN, PTS_OUT),
}


@pytest.mark.parametrize("op", UNBALANCED_POSTS.values(), ids=UNBALANCED_POSTS.keys())
def test_a_manual_entry_must_balance_per_asset(op: Post) -> None:
    assert refused(op) == "entry.unbalanced"


def test_the_unbalanced_refusal_says_by_how_much_per_asset() -> None:
    with pytest.raises(LedgerError) as error:
        post(CNY_OUT, CNY_IN, PTS_OUT).validate()
    assert error.value.context["totals"] == {"POINTS": -500}


def test_a_manual_entry_may_move_two_assets_if_each_balances() -> None:
    post(CNY_OUT, PTS_OUT, CNY_IN, PTS_IN).validate()


LEG_COUNTS = [
    # (legs, accepted?)
    (0, False),
    (1, False),
    (2, True),
    (MAX_LEGS, True),
    (MAX_LEGS + 1, False),
]


def _balanced_legs(n: int) -> tuple[Leg, ...]:
    """``n`` CNY legs that sum to zero (the last one, or a lone leg, carries the rest)."""
    legs = [Leg(f"merchant:m{i}:cny", Asset.CNY, 1) for i in range(max(n - 1, 0))]
    if n:
        legs.append(Leg("system:clearing", Asset.CNY, -(n - 1) or 1))
    return tuple(legs)


@pytest.mark.parametrize(("count", "accepted"), LEG_COUNTS)
def test_a_manual_entry_has_two_to_max_legs(count: int, accepted: bool) -> None:
    op = Post("k", _balanced_legs(count), "legs")
    if accepted:
        op.validate()
    else:
        assert refused(op) == "entry.invalid"


BAD_LEGS = {
    "a zero leg": ((Leg("merchant:tea:cny", Asset.CNY, 0), CNY_OUT, CNY_IN), "amount.invalid"),
    "a True amount": (
        (Leg("merchant:tea:cny", Asset.CNY, True), Leg("system:clearing", Asset.CNY, -1)),
        "amount.invalid",
    ),
    "a float amount": (
        (Leg("merchant:tea:cny", Asset.CNY, cast(Any, 5.0)), Leg("system:clearing", Asset.CNY, -5)),
        "amount.invalid",
    ),
    "over the limit": (
        (
            Leg("merchant:tea:cny", Asset.CNY, MAX_FEN + 1),
            Leg("system:clearing", Asset.CNY, -(MAX_FEN + 1)),
        ),
        "amount.invalid",
    ),
    "an asset given as text": (
        (
            Leg("merchant:tea:cny", cast(Any, "CNY"), 5),
            Leg("system:clearing", cast(Any, "CNY"), -5),
        ),
        "entry.invalid",
    ),
    "a leg on a lot": (
        (
            Leg("merchant:tea:accepted", Asset.POINTS, 5, LOT),
            Leg("system:issuance", Asset.POINTS, -5),
        ),
        "entry.invalid",
    ),
    "not a Leg": ((("merchant:tea:cny", Asset.CNY, 5), CNY_OUT), "entry.invalid"),
}


@pytest.mark.parametrize(("legs", "code"), BAD_LEGS.values(), ids=BAD_LEGS.keys())
def test_each_leg_of_a_manual_entry_is_checked(legs: tuple[Any, ...], code: str) -> None:
    assert refused(Post("k", legs, "legs")) == code


@pytest.mark.parametrize("memo", [None, "x" * 501])
def test_a_manual_entry_memo_is_text_of_at_most_500_characters(memo: Any) -> None:
    assert refused(post(CNY_OUT, CNY_IN, memo=memo)) == "entry.invalid"
