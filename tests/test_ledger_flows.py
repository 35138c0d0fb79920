"""The ledger's flows end to end on a real store (SQLite and PostgreSQL), on a simulated clock.

Each test tells one story of brief §5 — earn, release, void, redeem, refund (both shortfall
policies), expire, reverse, manual entries, idempotent retries, atomic batches — with explicit
``now`` times. After every test the books must still verify: every hash, balance and lot re-derived
from the journal, and issued = redeemed + expired + clawed back + outstanding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from jifen.ledger import (
    Asset,
    Earn,
    Expire,
    Ledger,
    LedgerError,
    Leg,
    LotStatus,
    MemberBalance,
    Operation,
    Post,
    Receipt,
    Redeem,
    Refund,
    Release,
    Reverse,
    Shortfall,
    Void,
    verify,
)
from jifen.ledger import _tables as t
from jifen.ledger.chain import entry_id_for

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
WINDOW = 7 * DAY  # the return window: points stay pending this long
LATER = T0 + 30 * DAY  # when every lot paid at T0 has been released
BEIJING = timezone(timedelta(hours=8))
PENDING, RELEASED = LotStatus.PENDING, LotStatus.RELEASED
VOIDED, EXPIRED, REVERSED = LotStatus.VOIDED, LotStatus.EXPIRED, LotStatus.REVERSED


# -- helpers -----------------------------------------------------------------------------------


def earn(
    key: str,
    member: str = "ana",
    points: int = 100,
    amount_fen: int = 10_000,
    *,
    merchant: str = "tea",
    paid: datetime = T0,
    window: timedelta = WINDOW,
    expires: datetime | None = None,
) -> Earn:
    """An order at ``merchant`` paid at ``paid`` earning ``points``; its lot id is the entry id."""
    return Earn(
        key, member, merchant, f"order-{key}", amount_fen, points, 1, paid, paid + window, expires
    )


def earn_released(ledger: Ledger, op: Earn) -> str:
    """Submit ``op`` at its payment time, release it when its window ends; return the lot id."""
    lot_id = ledger.submit(op, op.paid_at).entry_id
    ledger.submit(Release(f"release-{op.key}", lot_id), op.release_at)
    return lot_id


def balance_of(engine: Engine, account: str) -> int:
    """An account's stored balance (system accounts are spread over lane buckets)."""
    with engine.connect() as conn:
        total = conn.execute(
            select(func.sum(t.balances.c.amount)).where(t.balances.c.account_id == account)
        ).scalar_one()
    return int(total or 0)


JOURNAL = (t.entries, t.legs, t.blocks, t.balances, t.lots, t.accounts, t.chains)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the journal and its caches, in key order: equal snapshots, nothing written."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in JOURNAL
        }


def entry_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.entries)).scalar_one())


def refusal(
    ledger: Ledger, ops: Operation | list[Operation], now: datetime, case: str = ""
) -> LedgerError:
    """Submit ``ops`` expecting a refusal that writes nothing; return the error."""
    before = snapshot(ledger.engine)
    try:
        ledger.submit_batch(ops if isinstance(ops, list) else [ops], now)
    except LedgerError as exc:
        error = exc
    else:
        pytest.fail(f"{case}: accepted, but it should have been refused")
    assert snapshot(ledger.engine) == before, f"{case}: refused with {error.code} but wrote rows"
    return error


def members(table: list[Any]) -> list[tuple[str, Any]]:
    """Pair each row of a worked-example table with a member of its own (m0, m1, ...).

    Rows never share a member, so one ledger holds the whole table: the store is set up once
    per table instead of once per row, and the books are verified with every row on them.
    """
    return [(f"m{n}", row) for n, row in enumerate(table)]


@pytest.fixture(autouse=True)
def _books_still_verify(ledger: Ledger) -> Iterator[None]:
    """Two merchants open before each story; afterwards the whole ledger must verify."""
    ledger.open_merchant("tea", T0)
    ledger.open_merchant("books", T0)
    yield
    report = verify(ledger.engine)
    assert report.ok, [f"{f.code} {f.where()}: {f.message}" for f in report.findings[:5]]
    totals = report.totals
    assert totals["issued"] > 0
    assert totals["issued"] == (
        totals["redeemed"] + totals["expired"] + totals["clawed_back"] + totals["outstanding"]
    )


# -- earn, release, void -----------------------------------------------------------------------


def test_an_earn_holds_its_points_pending_in_a_new_lot_until_the_return_window_ends(
    ledger: Ledger,
) -> None:
    receipt = ledger.submit(earn("e1", points=128, amount_fen=12_800, expires=T0 + 365 * DAY), T0)

    lot_id = entry_id_for("e1")
    assert (receipt.entry_id, receipt.kind, receipt.replayed) == (lot_id, "earn", False)
    assert receipt.legs == (
        Leg("system:issuance", Asset.POINTS, -128),
        Leg("member:ana:pending", Asset.POINTS, 128, lot_id),
    )
    assert receipt.detail["release_at"] == "2026-03-08T09:00:00.000000Z"
    assert ledger.balance("ana") == MemberBalance("ana", available=0, pending=128, debt=0)
    lot = ledger.lot(lot_id)
    assert lot is not None
    assert (lot.status, lot.pending, lot.available, lot.points, lot.amount_fen) == (
        PENDING,
        128,
        0,
        128,
        12_800,
    )
    assert (lot.rule_version, lot.order_ref, lot.merchant_id) == (1, "order-e1", "tea")
    assert (lot.paid_at, lot.release_at, lot.expires_at) == (T0, T0 + WINDOW, T0 + 365 * DAY)


RELEASE_TIMES = [
    # (case, when the release is asked for after payment, refusal code or None)
    ("at payment", timedelta(0), "lot.not_due"),
    ("a day before the window ends", WINDOW - DAY, "lot.not_due"),
    ("one microsecond before the window ends", WINDOW - timedelta(microseconds=1), "lot.not_due"),
    ("the instant the window ends", WINDOW, None),
    ("a month later", 30 * DAY, None),
]


def test_pending_points_are_released_only_once_the_return_window_has_ended(
    ledger: Ledger,
) -> None:
    for m, (case, after, code) in members(RELEASE_TIMES):
        lot_id = ledger.submit(earn(f"{m}-e1", m), T0).entry_id
        release = Release(f"{m}-release", lot_id)
        if code:
            assert refusal(ledger, release, T0 + after, case).code == code, case
            assert ledger.balance(m) == MemberBalance(m, available=0, pending=100, debt=0), case
            assert ledger.lot(lot_id).status is PENDING, case  # type: ignore[union-attr]
            continue
        receipt = ledger.submit(release, T0 + after)
        assert receipt.detail == {"lot_id": lot_id, "points": 100, "debt_repaid": 0}, case
        assert ledger.balance(m) == MemberBalance(m, available=100, pending=0, debt=0), case
        lot = ledger.lot(lot_id)
        assert lot is not None and (lot.status, lot.available) == (RELEASED, 100), case


def test_voiding_a_pending_lot_cancels_its_points_and_closes_it(ledger: Ledger) -> None:
    lot_id = ledger.submit(earn("e1"), T0).entry_id
    ledger.submit(Void("void-e1", lot_id), T0 + DAY)

    assert ledger.balance("ana") == MemberBalance("ana", available=0, pending=0, debt=0)
    assert ledger.lot(lot_id).status is VOIDED  # type: ignore[union-attr]
    assert balance_of(ledger.engine, "system:clawback") == 100
    refused = refusal(ledger, Release("release-e1", lot_id), T0 + WINDOW)
    assert refused.code == "lot.invalid_state"


def test_released_points_can_no_longer_be_voided_or_released_again(ledger: Ledger) -> None:
    lot_id = earn_released(ledger, earn("e1"))
    assert refusal(ledger, Void("void-e1", lot_id), LATER).code == "lot.invalid_state"
    assert refusal(ledger, Release("again", lot_id), LATER).code == "lot.invalid_state"


def test_a_batch_is_one_block_and_sees_its_own_earlier_operations(ledger: Ledger) -> None:
    """Earn with no return window, release it and spend it: three entries, one block."""
    blocks = snapshot(ledger.engine)["blocks"]
    receipts = ledger.submit_batch(
        [
            earn("e1", window=timedelta(0)),
            Release("release-e1", entry_id_for("e1")),
            Redeem("r1", "ana", "books", 60, "order-r1"),
        ],
        T0,
    )
    assert [r.kind for r in receipts] == ["earn", "release", "redeem"]
    assert len(snapshot(ledger.engine)["blocks"]) == len(blocks) + 1
    assert ledger.balance("ana") == MemberBalance("ana", available=40, pending=0, debt=0)


# -- redeem ------------------------------------------------------------------------------------


def test_redeeming_draws_the_earliest_expiring_lot_first_and_credits_the_merchant(
    ledger: Ledger,
) -> None:
    late = earn_released(ledger, earn("late", expires=T0 + 400 * DAY))  # expires last
    soon = earn_released(ledger, earn("soon", paid=T0 + DAY, expires=T0 + 100 * DAY))
    never = earn_released(ledger, earn("never", paid=T0 - DAY))  # oldest, but never expires

    first = ledger.submit(Redeem("r1", "ana", "books", 150, "order-r1"), LATER)
    assert first.detail["lots"] == [[soon, 100], [late, 50]]
    assert first.legs == (
        Leg("member:ana:available", Asset.POINTS, -100, soon),
        Leg("member:ana:available", Asset.POINTS, -50, late),
        Leg("merchant:books:accepted", Asset.POINTS, 150),
    )
    second = ledger.submit(Redeem("r2", "ana", "tea", 120, "order-r2"), LATER)
    assert second.detail["lots"] == [[late, 50], [never, 70]]

    figures = {lot.lot_id: (lot.available, lot.redeemed) for lot in ledger.lots_of("ana")}
    assert figures == {soon: (0, 100), late: (0, 100), never: (30, 70)}
    assert ledger.balance("ana") == MemberBalance("ana", available=30, pending=0, debt=0)
    assert balance_of(ledger.engine, "merchant:books:accepted") == 150
    assert balance_of(ledger.engine, "merchant:tea:accepted") == 120


def test_redeeming_more_than_the_available_points_is_refused(ledger: Ledger) -> None:
    earn_released(ledger, earn("e1", points=100))
    ledger.submit(earn("e2", points=50, paid=LATER), LATER)  # pending points cannot be spent

    refused = refusal(ledger, Redeem("r1", "ana", "books", 101, "order-r1"), LATER)
    assert refused.code == "points.insufficient"
    assert refused.context["available"] == 100
    ledger.submit(Redeem("r2", "ana", "books", 100, "order-r2"), LATER)  # exactly enough is fine


# -- refunds -----------------------------------------------------------------------------------

REFUNDS = [
    # (case, released before the refund?, refunds in fen of a ¥100 order earning 100 points,
    #  then the lot's pending, available, status, and the points each refund clawed back)
    ("pending, 30% refunded: 30 points voided", False, [3_000], 70, 0, PENDING, [30]),
    ("pending, fully refunded: the lot is voided", False, [10_000], 0, 0, VOIDED, [100]),
    ("pending, refunded in two halves", False, [5_000, 5_000], 0, 0, VOIDED, [50, 50]),
    ("pending, 99 fen refunded: too little for a point", False, [99], 100, 0, PENDING, [0]),
    ("released, 25% refunded: 25 clawed back", True, [2_500], 0, 75, RELEASED, [25]),
    ("released, fully refunded", True, [10_000], 0, 0, RELEASED, [100]),
    ("released, three thirds", True, [3_333, 3_333, 3_334], 0, 0, RELEASED, [33, 33, 34]),
]


def test_a_refund_claws_back_the_orders_points_pro_rata_from_its_own_lot(ledger: Ledger) -> None:
    for m, (case, released, refunds, pending, available, status, clawed) in members(REFUNDS):
        op = earn(f"{m}-e1", m, points=100, amount_fen=10_000)
        lot_id = earn_released(ledger, op) if released else ledger.submit(op, T0).entry_id
        now = LATER if released else T0 + DAY
        clawback_before = balance_of(ledger.engine, "system:clawback")

        receipts = [
            ledger.submit(Refund(f"{m}-refund-{n}", lot_id, fen), now)
            for n, fen in enumerate(refunds)
        ]

        assert [r.detail["clawback_points"] for r in receipts] == clawed, case
        assert all(r.detail["shortfall_points"] == 0 for r in receipts), case
        assert ledger.balance(m) == MemberBalance(m, available, pending, debt=0), case
        lot = ledger.lot(lot_id)
        assert lot is not None
        assert (lot.status, lot.pending, lot.available) == (status, pending, available), case
        assert (lot.refunded_fen, lot.refund_clawed) == (sum(refunds), sum(clawed)), case
        clawback = balance_of(ledger.engine, "system:clawback") - clawback_before
        assert clawback == sum(clawed), case


def test_a_partly_refunded_pending_lot_releases_what_is_left(ledger: Ledger) -> None:
    lot_id = ledger.submit(earn("e1"), T0).entry_id
    ledger.submit(Refund("refund-1", lot_id, 3_000), T0 + DAY)
    receipt = ledger.submit(Release("release-e1", lot_id), T0 + WINDOW)
    assert receipt.detail["points"] == 70
    assert ledger.balance("ana") == MemberBalance("ana", available=70, pending=0, debt=0)


SPENT_REFUNDS = [
    # (case, points spent of the order's 100, another lot's points, refund fen of 10_000,
    #  then clawback, from the order's lot, from other lots, shortfall, available after)
    ("spent 80, nothing else: 80 short", 80, 0, 10_000, 100, 20, 0, 80, 0),
    ("spent 80, another lot covers 50, 30 short", 80, 50, 10_000, 100, 20, 50, 30, 0),
    ("spent 80, another lot covers it all", 80, 200, 10_000, 100, 20, 80, 0, 120),
    ("spent 80, half refunded: 20 from the lot, 30 short", 80, 0, 5_000, 50, 20, 0, 30, 0),
    ("spent 30, half refunded: the lot still holds 50", 30, 0, 5_000, 50, 50, 0, 0, 20),
]


def test_a_refund_of_spent_points_deducts_the_shortfall_from_the_cash_refund_by_default(
    ledger: Ledger,
) -> None:
    for m, row in members(SPENT_REFUNDS):
        case, spent, other, refund_fen, claw, from_lot, from_others, short, left = row
        lot_id = earn_released(ledger, earn(f"{m}-order", m, points=100, amount_fen=10_000))
        ledger.submit(Redeem(f"{m}-spend", m, "books", spent, "order-spend"), T0 + 10 * DAY)
        if other:
            earn_released(ledger, earn(f"{m}-other", m, points=other, paid=T0 + 10 * DAY))
        clawback_before = balance_of(ledger.engine, "system:clawback")

        d = ledger.submit(Refund(f"{m}-refund", lot_id, refund_fen), LATER).detail

        assert d["shortfall_policy"] == Shortfall.DEDUCT_FROM_REFUND.value, case
        assert (d["clawback_points"], d["from_lot"], d["from_other_lots"]) == (
            claw,
            from_lot,
            from_others,
        ), case
        assert (d["shortfall_points"], d["debt_points"]) == (short, 0), case
        assert ledger.balance(m) == MemberBalance(m, available=left, pending=0, debt=0), case
        clawback = balance_of(ledger.engine, "system:clawback") - clawback_before
        assert clawback == from_lot + from_others, case  # the shortfall is settled in cash


def test_record_debt_leaves_a_debt_that_the_next_releases_repay_first(ledger: Ledger) -> None:
    lot_a = earn_released(ledger, earn("a", points=100, amount_fen=10_000))
    ledger.submit(Redeem("spend", "ana", "books", 80, "order-spend"), T0 + 10 * DAY)

    refund = ledger.submit(Refund("refund-a", lot_a, 10_000, Shortfall.RECORD_DEBT), T0 + 11 * DAY)
    assert (refund.detail["shortfall_points"], refund.detail["debt_points"]) == (80, 80)
    assert ledger.balance("ana") == MemberBalance("ana", available=-80, pending=0, debt=80)
    assert balance_of(ledger.engine, "system:clawback") == 100
    in_debt = refusal(ledger, Redeem("r1", "ana", "books", 1, "order-r1"), T0 + 11 * DAY)
    assert in_debt.code == "points.insufficient"

    lot_b = ledger.submit(earn("b", points=50, paid=T0 + 12 * DAY), T0 + 12 * DAY).entry_id
    repaid = ledger.submit(Release("release-b", lot_b), T0 + 19 * DAY)
    assert (repaid.detail["points"], repaid.detail["debt_repaid"]) == (50, 50)
    assert ledger.balance("ana") == MemberBalance("ana", available=-30, pending=0, debt=30)

    lot_c = earn_released(ledger, earn("c", points=100, paid=T0 + 20 * DAY))
    assert ledger.balance("ana") == MemberBalance("ana", available=70, pending=0, debt=0)
    figures = {lot.lot_id: (lot.available, lot.redeemed) for lot in ledger.lots_of("ana")}
    assert figures[lot_b] == (0, 50) and figures[lot_c] == (70, 30)

    ledger.submit(Redeem("r2", "ana", "books", 70, "order-r2"), T0 + 40 * DAY)
    assert ledger.balance("ana") == MemberBalance("ana", available=0, pending=0, debt=0)


def test_record_debt_records_only_what_other_lots_cannot_cover(ledger: Ledger) -> None:
    lot_a = earn_released(ledger, earn("a", points=100))
    ledger.submit(Redeem("spend", "ana", "books", 80, "order-spend"), T0 + 10 * DAY)
    earn_released(ledger, earn("other", points=50, paid=T0 + 10 * DAY))

    refund = ledger.submit(Refund("refund-a", lot_a, 10_000, Shortfall.RECORD_DEBT), LATER)
    assert (refund.detail["from_other_lots"], refund.detail["debt_points"]) == (50, 30)
    assert ledger.balance("ana") == MemberBalance("ana", available=-30, pending=0, debt=30)


OVER_REFUNDS = [
    # (case, refunds already made on a 10_000 fen order, the refused refund, still refundable)
    ("one fen over at once", [], 10_001, 10_000),
    ("one fen over after a partial refund", [6_000], 4_001, 4_000),
    ("anything after a full refund", [10_000], 1, 0),
]


def test_refunds_beyond_the_order_amount_are_refused(ledger: Ledger) -> None:
    for m, (case, refunds, refused_fen, refundable) in members(OVER_REFUNDS):
        lot_id = earn_released(ledger, earn(f"{m}-e1", m, amount_fen=10_000))
        for n, fen in enumerate(refunds):
            ledger.submit(Refund(f"{m}-refund-{n}", lot_id, fen), LATER)
        refused = refusal(ledger, Refund(f"{m}-too-much", lot_id, refused_fen), LATER, case)
        assert refused.code == "refund.exceeds_order", case
        assert refused.context["refundable_fen"] == refundable, case


# -- expiry ------------------------------------------------------------------------------------

EXPIRES = T0 + 365 * DAY
EXPIRY_TIMES = [
    # (case, the lot's expiry, when expiry is asked for, refusal code or None)
    ("just released", EXPIRES, T0 + WINDOW, "lot.not_due"),
    ("one microsecond early", EXPIRES, EXPIRES - timedelta(microseconds=1), "lot.not_due"),
    ("the instant it expires", EXPIRES, EXPIRES, None),
    ("a year after it expired", EXPIRES, EXPIRES + 365 * DAY, None),
    ("a lot without expiry, a century on", None, T0 + 36_500 * DAY, "lot.not_due"),
]


def test_expiry_burns_what_is_left_of_a_lot_once_it_is_due(ledger: Ledger) -> None:
    for m, (case, expires, now, code) in members(EXPIRY_TIMES):
        lot_id = earn_released(ledger, earn(f"{m}-e1", m, points=100, expires=expires))
        ledger.submit(Redeem(f"{m}-spend", m, "books", 30, "order-spend"), LATER)
        expire = Expire(f"{m}-expire", lot_id)
        if code:
            assert refusal(ledger, expire, now, case).code == code, case
            assert ledger.balance(m).available == 70, case
            continue
        expired_before = balance_of(ledger.engine, "system:expired")
        assert ledger.submit(expire, now).detail["points"] == 70, case
        lot = ledger.lot(lot_id)
        assert lot is not None
        assert (lot.status, lot.available, lot.redeemed, lot.expired) == (EXPIRED, 0, 30, 70), case
        assert ledger.balance(m) == MemberBalance(m, available=0, pending=0, debt=0), case
        assert balance_of(ledger.engine, "system:expired") - expired_before == 70, case
        again = refusal(ledger, Expire(f"{m}-expire-again", lot_id), now, case)
        assert again.code == "lot.invalid_state", case


def test_a_lot_still_pending_at_its_expiry_burns_its_pending_points(ledger: Ledger) -> None:
    lot_id = ledger.submit(earn("e1", expires=T0 + 10 * DAY), T0).entry_id
    ledger.submit(Expire("expire-e1", lot_id), T0 + 10 * DAY)
    assert ledger.balance("ana") == MemberBalance("ana", available=0, pending=0, debt=0)
    assert ledger.lot(lot_id).expired == 100  # type: ignore[union-attr]
    late = refusal(ledger, Release("release-e1", lot_id), T0 + 10 * DAY)
    assert late.code == "lot.invalid_state"


def test_a_fully_spent_lot_has_nothing_left_to_expire(ledger: Ledger) -> None:
    lot_id = earn_released(ledger, earn("e1", expires=EXPIRES))
    ledger.submit(Redeem("spend", "ana", "books", 100, "order-spend"), LATER)
    assert refusal(ledger, Expire("expire-e1", lot_id), EXPIRES).code == "lot.invalid_state"


def test_a_refund_after_expiry_does_not_claw_back_the_expired_points_again(
    ledger: Ledger,
) -> None:
    lot_id = earn_released(ledger, earn("e1", points=100, expires=EXPIRES))
    ledger.submit(Redeem("spend", "ana", "books", 30, "order-spend"), LATER)
    ledger.submit(Expire("expire-e1", lot_id), EXPIRES)

    receipt = ledger.submit(Refund("refund-e1", lot_id, 10_000), EXPIRES + DAY)
    assert (receipt.detail["clawback_points"], receipt.detail["from_lot"]) == (100, 0)
    assert receipt.detail["shortfall_points"] == 30  # only the spent points are owed
    assert balance_of(ledger.engine, "system:expired") == 70


# -- corrections -------------------------------------------------------------------------------


def test_reversing_a_redemption_gives_the_points_back_to_the_lots_they_came_from(
    ledger: Ledger,
) -> None:
    soon = earn_released(ledger, earn("soon", points=50, expires=T0 + 100 * DAY))
    late = earn_released(ledger, earn("late", points=50, expires=T0 + 200 * DAY))
    redeem = ledger.submit(Redeem("r1", "ana", "books", 80, "order-r1"), LATER)

    reversal = ledger.submit(Reverse("undo-r1", redeem.entry_id, "till error"), LATER + DAY)

    assert reversal.detail == {"reverses": redeem.entry_id, "reason": "till error"}
    assert reversal.legs == tuple(
        dataclasses.replace(leg, amount=-leg.amount) for leg in redeem.legs
    )
    figures = {lot.lot_id: (lot.available, lot.redeemed) for lot in ledger.lots_of("ana")}
    assert figures == {soon: (50, 0), late: (50, 0)}
    assert ledger.balance("ana") == MemberBalance("ana", available=100, pending=0, debt=0)
    assert balance_of(ledger.engine, "merchant:books:accepted") == 0


def test_reversing_a_pending_earn_closes_its_lot(ledger: Ledger) -> None:
    ledger.submit(earn("keep", points=1), T0)
    lot_id = ledger.submit(earn("e1"), T0).entry_id
    ledger.submit(Reverse("undo-e1", lot_id, "duplicate order notification"), T0 + DAY)

    assert ledger.lot(lot_id).status is REVERSED  # type: ignore[union-attr]
    assert ledger.balance("ana") == MemberBalance("ana", available=0, pending=1, debt=0)
    assert balance_of(ledger.engine, "system:issuance") == -1
    for late in (Release("release-e1", lot_id), Refund("refund-e1", lot_id, 100)):
        assert refusal(ledger, late, T0 + WINDOW).code == "lot.invalid_state"


def _released_earn(ledger: Ledger, m: str) -> str:
    return earn_released(ledger, earn(f"{m}-e1", m))


def _release(ledger: Ledger, m: str) -> str:
    earn_released(ledger, earn(f"{m}-e1", m))
    return entry_id_for(f"release-{m}-e1")


def _void(ledger: Ledger, m: str) -> str:
    lot_id = ledger.submit(earn(f"{m}-e1", m), T0).entry_id
    return ledger.submit(Void(f"{m}-void", lot_id), T0).entry_id


def _refund(ledger: Ledger, m: str) -> str:
    lot_id = earn_released(ledger, earn(f"{m}-e1", m))
    return ledger.submit(Refund(f"{m}-refund", lot_id, 1_000), LATER).entry_id


def _expire(ledger: Ledger, m: str) -> str:
    lot_id = earn_released(ledger, earn(f"{m}-e1", m, expires=T0 + 10 * DAY))
    return ledger.submit(Expire(f"{m}-expire", lot_id), T0 + 10 * DAY).entry_id


def _partly_refunded_pending_earn(ledger: Ledger, m: str) -> str:
    lot_id = ledger.submit(earn(f"{m}-e1", m), T0).entry_id
    ledger.submit(Refund(f"{m}-refund", lot_id, 1_000), T0)
    return lot_id


def _redemption_from_a_lot_that_has_since_expired(ledger: Ledger, m: str) -> str:
    lot_id = earn_released(ledger, earn(f"{m}-e1", m, expires=T0 + 10 * DAY))
    redeem = ledger.submit(Redeem(f"{m}-r1", m, "books", 10, "order-r1"), T0 + 8 * DAY)
    ledger.submit(Expire(f"{m}-expire", lot_id), T0 + 10 * DAY)
    return redeem.entry_id


def _a_reversal(ledger: Ledger, m: str) -> str:
    lot_id = ledger.submit(earn(f"{m}-e1", m), T0).entry_id
    return ledger.submit(Reverse(f"{m}-undo", lot_id, "typo"), T0).entry_id


NOT_REVERSIBLE: list[tuple[str, Callable[[Ledger, str], str]]] = [
    ("a released earn (refund the order instead)", _released_earn),
    ("a release", _release),
    ("a void", _void),
    ("a refund", _refund),
    ("an expiry", _expire),
    ("a pending earn already partly refunded", _partly_refunded_pending_earn),
    (
        "a redemption from a lot that has since expired",
        _redemption_from_a_lot_that_has_since_expired,
    ),
    ("a reversal", _a_reversal),
]


def test_entries_corrected_by_their_own_flow_cannot_be_reversed(ledger: Ledger) -> None:
    for m, (case, make) in members(NOT_REVERSIBLE):
        entry_id = make(ledger, m)
        refused = refusal(ledger, Reverse(f"{m}-try", entry_id, "try"), T0 + 20 * DAY, case)
        assert refused.code == "entry.not_reversible", case


def test_an_entry_can_be_reversed_only_once(ledger: Ledger) -> None:
    earn_released(ledger, earn("e1"))
    redeem = ledger.submit(Redeem("r1", "ana", "books", 40, "order-r1"), LATER)
    ledger.submit(Reverse("undo-1", redeem.entry_id, "till error"), LATER)
    again = refusal(ledger, Reverse("undo-2", redeem.entry_id, "again"), LATER)
    assert again.code == "entry.not_reversible"

    other = ledger.submit(Redeem("r2", "ana", "books", 10, "order-r2"), LATER).entry_id
    twice_in_one_batch: list[Operation] = [
        Reverse("undo-3", other, "a"),
        Reverse("undo-4", other, "b"),
    ]
    assert refusal(ledger, twice_in_one_batch, LATER).code == "entry.not_reversible"


def test_reversing_an_unknown_entry_is_refused(ledger: Ledger) -> None:
    ledger.submit(earn("e1"), T0)
    assert refusal(ledger, Reverse("undo", "f" * 32, "why"), T0).code == "entry.not_found"


# -- manual entries ----------------------------------------------------------------------------


def cny(account: str, fen: int) -> Leg:
    return Leg(account, Asset.CNY, fen)


def test_a_manual_entry_moves_cny_between_clearing_and_a_merchant(ledger: Ledger) -> None:
    ledger.submit(earn("e1"), T0)  # the books hold points too, so the invariant is not vacuous
    settle = Post(
        "settle-1", (cny("system:clearing", -50_000), cny("merchant:tea:cny", 50_000)), "T+1"
    )
    paid_in = ledger.submit(settle, T0)
    assert paid_in.detail == {"memo": "T+1"}
    assert balance_of(ledger.engine, "merchant:tea:cny") == 50_000
    assert balance_of(ledger.engine, "system:clearing") == -50_000  # clearing may go below zero

    payout = Post(
        "payout-1", (cny("merchant:tea:cny", -20_000), cny("system:clearing", 20_000)), "out"
    )
    ledger.submit(payout, T0 + DAY)
    assert balance_of(ledger.engine, "merchant:tea:cny") == 30_000

    overdrawn = Post(
        "payout-2", (cny("merchant:tea:cny", -30_001), cny("system:clearing", 30_001)), "too much"
    )
    assert refusal(ledger, overdrawn, T0 + DAY).code == "balance.insufficient"

    undo_settle = Reverse("undo-settle-1", paid_in.entry_id, "wrong merchant")
    assert refusal(ledger, undo_settle, T0 + 2 * DAY).code == "balance.insufficient"  # 30_000 left
    ledger.submit(Reverse("undo-payout-1", entry_id_for("payout-1"), "sent twice"), T0 + 2 * DAY)
    ledger.submit(undo_settle, T0 + 2 * DAY)
    assert balance_of(ledger.engine, "merchant:tea:cny") == 0
    assert balance_of(ledger.engine, "system:clearing") == 0


# -- idempotency -------------------------------------------------------------------------------

NOW = T0 + 20 * DAY


def _replay_earn(ledger: Ledger, m: str) -> Operation:
    return earn(f"{m}-e2", m, paid=NOW)


def _replay_release(ledger: Ledger, m: str) -> Operation:
    return Release(f"{m}-release-e2", ledger.submit(earn(f"{m}-e2", m), T0).entry_id)


def _replay_void(ledger: Ledger, m: str) -> Operation:
    return Void(f"{m}-void-e2", ledger.submit(earn(f"{m}-e2", m, paid=NOW), NOW).entry_id)


def _replay_redeem(ledger: Ledger, m: str) -> Operation:
    return Redeem(f"{m}-r1", m, "books", 40, "order-r1")


def _replay_refund(ledger: Ledger, m: str) -> Operation:
    return Refund(f"{m}-refund", entry_id_for(f"{m}-e1"), 4_000, Shortfall.RECORD_DEBT)


def _replay_expire(ledger: Ledger, m: str) -> Operation:
    return Expire(f"{m}-expire", earn_released(ledger, earn(f"{m}-e2", m, expires=NOW)))


def _replay_reverse(ledger: Ledger, m: str) -> Operation:
    redeem = ledger.submit(Redeem(f"{m}-r0", m, "books", 40, "order-r0"), NOW)
    return Reverse(f"{m}-undo-r0", redeem.entry_id, "oops")


def _replay_post(ledger: Ledger, m: str) -> Operation:
    return Post(f"{m}-settle", (cny("system:clearing", -100), cny("merchant:tea:cny", 100)), "T+1")


REPLAYS: list[tuple[str, Callable[[Ledger, str], Operation]]] = [
    ("earn", _replay_earn),
    ("release", _replay_release),
    ("void", _replay_void),
    ("redeem", _replay_redeem),
    ("refund", _replay_refund),
    ("expire", _replay_expire),
    ("reverse", _replay_reverse),
    ("post", _replay_post),
]


def test_the_same_key_with_the_same_body_returns_the_first_receipt_and_changes_nothing(
    ledger: Ledger,
) -> None:
    for m, (case, make) in members(REPLAYS):
        earn_released(ledger, earn(f"{m}-e1", m))
        op = make(ledger, m)
        first = ledger.submit(op, NOW)
        before = snapshot(ledger.engine)

        again = ledger.submit(op, NOW + DAY)  # a retry a day later: still the first result
        in_a_batch = ledger.submit_batch([op], NOW + 2 * DAY)[0]

        assert first.replayed is False, case
        assert again == in_a_batch == dataclasses.replace(first, replayed=True), case
        assert again.at == NOW, case
        assert snapshot(ledger.engine) == before, case


def _conflict_earn(ledger: Ledger, m: str) -> tuple[Operation, Operation]:
    return earn(f"{m}-e2", m), earn(f"{m}-e2", m, points=101)


def _conflict_redeem(ledger: Ledger, m: str) -> tuple[Operation, Operation]:
    return Redeem(f"{m}-r1", m, "books", 40, "order-r1"), Redeem(
        f"{m}-r1", m, "books", 41, "order-r1"
    )


def _conflict_redeem_now_unaffordable(ledger: Ledger, m: str) -> tuple[Operation, Operation]:
    return Redeem(f"{m}-r1", m, "books", 40, "order-r1"), Redeem(
        f"{m}-r1", m, "books", 1_000, "order-r1"
    )


def _conflict_refund_policy(ledger: Ledger, m: str) -> tuple[Operation, Operation]:
    lot_id = entry_id_for(f"{m}-e1")
    return Refund(f"{m}-f1", lot_id, 1_000), Refund(f"{m}-f1", lot_id, 1_000, Shortfall.RECORD_DEBT)


def _conflict_other_kind(ledger: Ledger, m: str) -> tuple[Operation, Operation]:
    lot_id = ledger.submit(earn(f"{m}-e2", m), T0).entry_id
    return earn(f"{m}-e3", m), Release(f"{m}-e3", lot_id)


def _conflict_post_memo(ledger: Ledger, m: str) -> tuple[Operation, Operation]:
    legs = (cny("system:clearing", -100), cny("merchant:tea:cny", 100))
    return Post(f"{m}-settle", legs, "T+1"), Post(f"{m}-settle", legs, "T+2")


CONFLICTS: list[tuple[str, Callable[[Ledger, str], tuple[Operation, Operation]]]] = [
    ("an earn with other points", _conflict_earn),
    ("a redemption of other points", _conflict_redeem),
    ("a redemption of more points than the member now has", _conflict_redeem_now_unaffordable),
    ("a refund with another shortfall policy", _conflict_refund_policy),
    ("a release under an earn's key", _conflict_other_kind),
    ("a manual entry with another memo", _conflict_post_memo),
]


def test_the_same_key_with_another_body_is_a_conflict_that_changes_nothing(
    ledger: Ledger,
) -> None:
    for m, (case, make) in members(CONFLICTS):
        earn_released(ledger, earn(f"{m}-e1", m))
        first, other = make(ledger, m)
        ledger.submit(first, NOW)
        refused = refusal(ledger, other, NOW, case)
        assert refused.code == "idempotency.conflict", case
        assert refused.context["key"] == first.key, case


def test_the_same_key_twice_in_one_batch_with_different_bodies_is_a_conflict(
    ledger: Ledger,
) -> None:
    ledger.submit(earn("e0"), T0)
    batch: list[Operation] = [earn("e1"), earn("e2"), earn("e1", points=1)]
    refused = refusal(ledger, batch, T0)
    assert refused.code == "idempotency.conflict"
    assert (refused.context["key"], refused.context["index"]) == ("e1", 2)


def test_identical_operations_in_one_batch_fold_into_one_entry(ledger: Ledger) -> None:
    receipts = ledger.submit_batch([earn("e1"), earn("e2"), earn("e1")], T0)
    assert receipts[0] == receipts[2]
    assert entry_count(ledger.engine) == 2
    assert ledger.balance("ana").pending == 200


def test_a_batch_mixing_stored_and_new_keys_replays_the_stored_and_applies_the_new(
    ledger: Ledger,
) -> None:
    """Ten earns (enough for the bulk COPY path on PostgreSQL), one of them already stored."""
    stored = ledger.submit(earn("e3"), T0)
    batch = [earn(f"e{n}") for n in range(10)]

    receipts = ledger.submit_batch(batch, T0 + DAY)

    assert [r.replayed for r in receipts] == [n == 3 for n in range(10)]
    assert receipts[3] == dataclasses.replace(stored, replayed=True)
    assert entry_count(ledger.engine) == 10
    assert ledger.balance("ana").pending == 1_000


# -- atomic batches ----------------------------------------------------------------------------

FAILING_LAST: list[tuple[str, Callable[[str], Operation]]] = [
    # (the code the batch is refused with, the operation at the end of the batch that fails)
    ("points.insufficient", lambda m: Redeem(f"{m}-r-big", m, "books", 10_000, "order-big")),
    ("refund.exceeds_order", lambda m: Refund(f"{m}-f-big", entry_id_for(f"{m}-e1"), 10_001)),
    ("lot.not_due", lambda m: Release(f"{m}-release-new", entry_id_for(f"{m}-new"))),
    ("account.not_found", lambda m: earn(f"{m}-ghost", m, merchant="ghost")),
    ("lot.not_found", lambda m: Void(f"{m}-void-none", "f" * 32)),
    (
        "entry.unbalanced",
        lambda m: Post(
            f"{m}-p", (cny("merchant:tea:cny", 100), cny("system:clearing", -99)), "off by one"
        ),
    ),
    ("amount.invalid", lambda m: Redeem(f"{m}-r-zero", m, "books", 0, "order-zero")),
    ("idempotency.malformed_key", lambda m: Redeem(f"{m} bad", m, "books", 1, "order-bad")),
]


def test_a_batch_with_one_failing_operation_writes_nothing_at_all(ledger: Ledger) -> None:
    for m, (code, failing) in members(FAILING_LAST):
        earn_released(ledger, earn(f"{m}-e1", m))
        newcomer = f"{m}-newcomer"
        batch: list[Operation] = [
            earn(f"{m}-new", newcomer, paid=NOW),  # a member never seen before
            Redeem(f"{m}-r1", m, "books", 60, "order-r1"),
            Refund(f"{m}-f1", entry_id_for(f"{m}-e1"), 2_000),
            Post(f"{m}-settle", (cny("system:clearing", -100), cny("merchant:tea:cny", 100)), "x"),
            failing(m),
        ]
        refused = refusal(ledger, batch, NOW, code)
        assert refused.code == code
        where = (refused.context.get("key"), refused.context.get("index"))
        assert where != (None, None), f"{code}: the error does not name the failing operation"
        assert ledger.lots_of(newcomer) == [], code
        ledger.submit_batch(batch[:-1], NOW)  # without the bad one the same batch goes through


# -- time zones and read-back ------------------------------------------------------------------


def test_times_given_in_any_zone_are_kept_as_the_same_instants(ledger: Ledger) -> None:
    paid = T0.astimezone(BEIJING)
    lot_id = ledger.submit(earn("e1", paid=paid), paid).entry_id
    lot = ledger.lot(lot_id)
    assert lot is not None and (lot.paid_at, lot.release_at) == (T0, T0 + WINDOW)
    assert ledger.submit(earn("e1", paid=T0), T0).replayed  # same instants, same body
    receipt = ledger.submit(Release("release-e1", lot_id), (T0 + WINDOW).astimezone(BEIJING))
    assert ledger.entry(receipt.entry_id).at == T0 + WINDOW  # type: ignore[union-attr]


def test_receipts_read_back_equal_the_receipts_given(ledger: Ledger) -> None:
    receipts: list[Receipt] = [
        ledger.submit(earn("e1", expires=T0 + 365 * DAY), T0),
        ledger.submit(Release("release-e1", entry_id_for("e1")), T0 + WINDOW),
        ledger.submit(Redeem("r1", "ana", "books", 10, "order-r1"), LATER),
    ]
    for receipt in receipts:
        assert ledger.entry(receipt.entry_id) == dataclasses.replace(receipt, replayed=True)
