"""Bad input is refused with a stable code and changes nothing (issue 2, "Done when").

A small ledger is built first; then each bad request of the table below is submitted to it, and
the refusal must carry the listed code while every row of the journal (entries, legs, blocks) and
of its caches (balances, lots, accounts, lane tips) stays exactly as it was. Rows never change the
ledger, so one ledger per backend serves the whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from jifen.ledger import (
    MAX_BATCH,
    Asset,
    Earn,
    Ledger,
    LedgerError,
    Leg,
    Operation,
    Post,
    Redeem,
    Refund,
    Release,
    Reverse,
    verify,
)
from jifen.ledger import _tables as t

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NOW = T0 + 30 * DAY
COUNTED = (t.entries, t.legs, t.blocks, t.balances, t.lots)
WHOLE = (*COUNTED, t.accounts, t.chains)


def earn(
    key: str,
    member: str = "ana",
    points: int = 100,
    amount_fen: int = 10_000,
    *,
    merchant: str = "tea",
    paid: datetime = T0,
) -> Earn:
    """An order paid at ``paid`` whose points are pending for a week."""
    return Earn(key, member, merchant, f"order-{key}", amount_fen, points, 1, paid, paid + 7 * DAY)


def cny(account: str, fen: int) -> Leg:
    return Leg(account, Asset.CNY, fen)


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in COUNTED
        }


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in WHOLE
        }


@dataclass(frozen=True)
class Books:
    """What the small ledger holds: ana's released lot and redemption, bo's pending lot."""

    ana_lot: str
    bo_lot: str
    redeem: str


@pytest.fixture
def books(ledger: Ledger) -> Iterator[Books]:
    ledger.open_merchant("tea", T0)
    ledger.open_merchant("books", T0)
    ana_lot = ledger.submit(earn("ana-order-1"), T0).entry_id
    ledger.submit(Release("ana-release-1", ana_lot), T0 + 7 * DAY)
    bo_lot = ledger.submit(earn("bo-order-1", "bo", paid=NOW - DAY), NOW - DAY).entry_id
    redeem = ledger.submit(Redeem("ana-spend-1", "ana", "books", 40, "pos-1"), T0 + 8 * DAY)
    ledger.submit(
        Post("settle-1", (cny("system:clearing", -500), cny("merchant:tea:cny", 500)), "T+1"), T0
    )
    yield Books(ana_lot, bo_lot, redeem.entry_id)
    assert verify(ledger.engine).ok


BAD_INPUT: list[tuple[str, str, Callable[[Books], Operation | list[Operation]]]] = [
    # (case, the code it is refused with, the request)
    ("earn of zero points", "amount.invalid", lambda b: earn("e", points=0)),
    ("earn of negative points", "amount.invalid", lambda b: earn("e", points=-100)),
    ("earn on an order of zero fen", "amount.invalid", lambda b: earn("e", amount_fen=0)),
    ("redeem of zero points", "amount.invalid", lambda b: Redeem("r", "ana", "books", 0, "p")),
    ("redeem of negative points", "amount.invalid", lambda b: Redeem("r", "ana", "tea", -5, "p")),
    ("refund of zero fen", "amount.invalid", lambda b: Refund("f", b.ana_lot, 0)),
    ("refund of negative fen", "amount.invalid", lambda b: Refund("f", b.ana_lot, -1_000)),
    (
        "manual entry with a zero leg",
        "amount.invalid",
        lambda b: Post("p", (cny("system:clearing", 0), cny("merchant:tea:cny", 0)), "x"),
    ),
    (
        "redeem by a member never seen",
        "points.insufficient",
        lambda b: Redeem("r", "zoe", "books", 1, "p"),
    ),
    (
        "redeem at a merchant never opened",
        "account.not_found",
        lambda b: Redeem("r", "ana", "ghost", 1, "p"),
    ),
    (
        "earn at a merchant never opened",
        "account.not_found",
        lambda b: earn("e", merchant="ghost"),
    ),
    (
        "manual entry to a merchant never opened",
        "account.not_found",
        lambda b: Post("p", (cny("system:clearing", -5), cny("merchant:ghost:cny", 5)), "x"),
    ),
    (
        "manual entry to an account nobody has",
        "account.not_found",
        lambda b: Post("p", (cny("system:clearing", -5), cny("system:nowhere", 5)), "x"),
    ),
    (
        "manual entry off by one fen",
        "entry.unbalanced",
        lambda b: Post("p", (cny("system:clearing", -500), cny("merchant:tea:cny", 499)), "x"),
    ),
    (
        "manual entry balanced overall but not per asset",
        "entry.unbalanced",
        lambda b: Post(
            "p",
            (cny("system:clearing", -5), Leg("merchant:tea:accepted", Asset.POINTS, 5)),
            "x",
        ),
    ),
    (
        "manual entry with one leg",
        "entry.invalid",
        lambda b: Post("p", (cny("merchant:tea:cny", 5),), "x"),
    ),
    (
        "manual entry moving member points",
        "entry.invalid",
        lambda b: Post(
            "p",
            (
                Leg("member:ana:available", Asset.POINTS, 5),
                Leg("system:issuance", Asset.POINTS, -5),
            ),
            "x",
        ),
    ),
    (
        "manual entry booking CNY to a points account",
        "entry.invalid",
        lambda b: Post("p", (cny("system:clearing", -5), cny("merchant:tea:accepted", 5)), "x"),
    ),
    ("empty key", "idempotency.malformed_key", lambda b: earn("")),
    ("key with a space", "idempotency.malformed_key", lambda b: earn("order 2")),
    ("key of 129 characters", "idempotency.malformed_key", lambda b: earn("k" * 129)),
    (
        "key in Chinese",
        "idempotency.malformed_key",
        lambda b: Redeem("兑换-1", "ana", "books", 1, "p"),
    ),
    (
        "an earn's key reused with other points",
        "idempotency.conflict",
        lambda b: earn("ana-order-1", points=101),
    ),
    (
        "a redemption's key reused with other points",
        "idempotency.conflict",
        lambda b: Redeem("ana-spend-1", "ana", "books", 41, "pos-1"),
    ),
    (
        "a manual entry's key reused for a redemption",
        "idempotency.conflict",
        lambda b: Redeem("settle-1", "ana", "books", 1, "p"),
    ),
    (
        "a key reused in one batch with another body",
        "idempotency.conflict",
        lambda b: [earn("new-1"), earn("new-1", points=7)],
    ),
    ("release of an unknown lot", "lot.not_found", lambda b: Release("x", "f" * 32)),
    ("refund of an unknown lot", "lot.not_found", lambda b: Refund("x", "f" * 32, 100)),
    ("reversal of an unknown entry", "entry.not_found", lambda b: Reverse("x", "f" * 32, "why")),
    ("release before the window ends", "lot.not_due", lambda b: Release("x", b.bo_lot)),
    ("refund beyond the order", "refund.exceeds_order", lambda b: Refund("x", b.ana_lot, 10_001)),
    (
        "redeem of more than the member has",
        "points.insufficient",
        lambda b: Redeem("r", "ana", "books", 61, "p"),
    ),
    (
        "a batch one over the limit",
        "batch.too_large",
        lambda b: [earn(f"bulk-{n}") for n in range(MAX_BATCH + 1)],
    ),
    (
        "a batch over the limit even if its copies would fold into one",
        "batch.too_large",
        lambda b: [earn("bulk")] * (MAX_BATCH + 1),
    ),
]


def test_bad_input_is_refused_with_a_stable_code_and_changes_nothing(
    ledger: Ledger, books: Books
) -> None:
    for case, code, make in BAD_INPUT:
        request = make(books)
        counts, before = row_counts(ledger.engine), rows(ledger.engine)
        try:
            if isinstance(request, list):
                ledger.submit_batch(request, NOW)
            else:
                ledger.submit(request, NOW)
        except LedgerError as exc:
            assert exc.code == code, f"{case}: refused with {exc.code}, expected {code}"
            assert str(exc).startswith(f"{code}: ") and exc.message, case
        else:
            pytest.fail(f"{case}: accepted, expected {code}")
        assert row_counts(ledger.engine) == counts, f"{case}: row counts changed"
        assert rows(ledger.engine) == before, f"{case}: rows changed"


def test_a_refusal_inside_a_batch_names_the_operation_that_failed(
    ledger: Ledger, books: Books
) -> None:
    good = [earn("new-1"), earn("new-2")]
    with pytest.raises(LedgerError) as malformed:
        ledger.submit_batch([*good, earn("new 3")], NOW)
    assert malformed.value.context["index"] == 2

    with pytest.raises(LedgerError) as short:
        ledger.submit_batch([*good, Redeem("big", "ana", "books", 1_000, "p")], NOW)
    assert short.value.context["key"] == "big"


def test_a_clock_without_a_time_zone_is_refused_with_a_stable_code_and_changes_nothing(
    ledger: Ledger, books: Books
) -> None:
    """``now`` is as much input as the operation: a naive datetime has no instant to record."""
    naive = NOW.replace(tzinfo=None)
    for request in (earn("new-1"), Release("late", books.bo_lot)):
        before = rows(ledger.engine)
        with pytest.raises(LedgerError) as error:
            ledger.submit(request, naive)
        assert error.value.code == "entry.invalid"
        assert rows(ledger.engine) == before


@pytest.mark.parametrize("algorithm", ["sm3", "md5"])
def test_reopening_a_store_with_another_hash_algorithm_is_refused(
    ledger: Ledger, db_url: str, algorithm: str
) -> None:
    ledger.open_merchant("tea", T0)
    ledger.submit(earn("e1"), T0)
    before = rows(ledger.engine)
    with pytest.raises(LedgerError) as error:
        Ledger.open(db_url, hash_alg=algorithm)
    assert error.value.code == "chain.unsupported_hash"
    assert rows(ledger.engine) == before
