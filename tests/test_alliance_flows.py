"""Alliance flows at the service layer: the refusals a cashier or an operator can meet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from jifen.alliance.members import enrol, history
from jifen.alliance.merchants import (
    Merchant,
    MerchantStatus,
    add_operator_key,
    create_merchant,
    set_status,
)
from jifen.alliance.orders import cancel_order, list_orders, record_order
from jifen.alliance.redemptions import new_code, redeem
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.errors import JifenError
from jifen.jobs import run_jobs
from jifen.rules import RuleDocument

T0 = datetime(2026, 6, 1, 2, tzinfo=UTC)


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    context = open_alliance(db_url, secret="flows-secret", clock=SimulatedClock(T0))
    v1 = context.rulebook.draft(RuleDocument(), T0)
    context.rulebook.publish(
        v1.number, effective_at=T0, reason="launch", now=T0, points_outstanding=False
    )
    for merchant_id, category in (("tea", "cafe"), ("film", "cinema"), ("book", "books")):
        create_merchant(ctx=context, merchant=Merchant(merchant_id, merchant_id, category,
                        MerchantStatus.ACTIVE), now=T0)  # fmt: skip
    yield context
    context.engine.dispose()


def refused(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The stable code of the refusal ``call(*args, **kwargs)`` must raise."""
    with pytest.raises(JifenError) as info:
        call(*args, **kwargs)
    return info.value.code


def released_member(ctx: Context) -> str:
    member = enrol(ctx, "13900139000", {"terms": True, "privacy": True}, T0).member_id
    record_order(ctx, "tea", order_ref="o1", member_id=member, amount_fen=100_000, paid_at=T0)
    assert isinstance(ctx.clock, SimulatedClock)
    ctx.clock.set(T0 + timedelta(days=9))
    run_jobs(ctx)
    return member


def test_a_code_pays_once_even_at_another_merchant(ctx: Context) -> None:
    member = released_member(ctx)
    code, _ = new_code(ctx, member, ctx.clock.now())
    first = redeem(ctx, "film", code=code, points=200, order_ref="f1", order_amount_fen=10_000)
    assert first.points == 200 and first.value_fen == 200
    again = redeem(ctx, "film", code=code, points=200, order_ref="f1", order_amount_fen=10_000)
    assert again.redemption_id == first.redemption_id and again.replayed
    assert (
        refused(redeem, ctx, "book", code=code, points=200, order_ref="f1", order_amount_fen=10_000)
        == "redemption.code_used"
    )
    assert (
        refused(redeem, ctx, "film", code=code, points=300, order_ref="f2", order_amount_fen=10_000)
        == "redemption.code_used"
    )
    assert ctx.ledger.balance(member).available == 1000 - 200


def test_a_code_expires_after_five_minutes_unused(ctx: Context) -> None:
    member = released_member(ctx)
    code, expires = new_code(ctx, member, ctx.clock.now())
    assert isinstance(ctx.clock, SimulatedClock)
    ctx.clock.set(expires)
    assert (
        refused(redeem, ctx, "film", code=code, points=200, order_ref="f1", order_amount_fen=10_000)
        == "redemption.code_invalid"
    )


@pytest.mark.parametrize(
    ("points", "amount_fen", "code"),
    [
        (99, 10_000, "redemption.below_minimum"),  # default minimum 100 points
        (10_001, 10_000, "redemption.over_order_share"),  # value > 100% of the order
        (5_000, 1_000_000, "points.insufficient"),  # only 1,000 available
    ],
)
def test_redemption_limits_are_refused_without_using_the_code(
    ctx: Context, points: int, amount_fen: int, code: str
) -> None:
    member = released_member(ctx)
    one_time, _ = new_code(ctx, member, ctx.clock.now())
    assert (
        refused(
            redeem,
            ctx,
            "film",
            code=one_time,
            points=points,
            order_ref="f1",
            order_amount_fen=amount_fen,
        )
        == code
    )
    ok = redeem(ctx, "film", code=one_time, points=100, order_ref="f1", order_amount_fen=10_000)
    assert ok.points == 100


def test_order_times_must_be_recent_and_not_in_the_future(ctx: Context) -> None:
    member = enrol(ctx, "13900139000", {"terms": True, "privacy": True}, T0).member_id
    assert isinstance(ctx.clock, SimulatedClock)
    ctx.clock.set(T0 + timedelta(days=40))
    now = ctx.clock.now()
    assert (
        refused(
            record_order,
            ctx,
            "tea",
            order_ref="o1",
            member_id=member,
            amount_fen=100,
            paid_at=now - timedelta(days=31),
        )
        == "order.paid_too_long_ago"
    )
    assert (
        refused(
            record_order,
            ctx,
            "tea",
            order_ref="o1",
            member_id=member,
            amount_fen=100,
            paid_at=now + timedelta(hours=1),
        )
        == "order.paid_in_future"
    )


def test_a_suspended_merchant_records_no_orders_and_a_closed_one_stays_closed(ctx: Context) -> None:
    member = enrol(ctx, "13900139000", {"terms": True, "privacy": True}, T0).member_id
    set_status(ctx, "tea", MerchantStatus.SUSPENDED, T0)
    assert (
        refused(
            record_order, ctx, "tea", order_ref="o1", member_id=member, amount_fen=100, paid_at=T0
        )
        == "merchant.inactive"
    )
    set_status(ctx, "tea", MerchantStatus.CLOSED, T0)
    assert refused(set_status, ctx, "tea", MerchantStatus.ACTIVE, T0) == "merchant.inactive"


def test_cancelling_after_release_is_refused_refund_instead(ctx: Context) -> None:
    released_member(ctx)
    assert refused(cancel_order, ctx, "tea", "o1") == "order.not_cancellable"


def test_history_shows_pending_and_available_changes_separately(ctx: Context) -> None:
    member = released_member(ctx)
    lines = history(ctx, member, cursor=None, limit=10).items
    by_kind = {line.kind: line for line in lines}
    assert (by_kind["earn"].pending_points, by_kind["earn"].available_points) == (1000, 0)
    assert (by_kind["release"].pending_points, by_kind["release"].available_points) == (-1000, 1000)
    assert by_kind["earn"].order_ref == "o1" and by_kind["earn"].rule_version == 1


@pytest.mark.parametrize("key", ["jfo_short", "operator-key-without-prefix-0123456789", ""])
def test_an_operator_key_must_look_like_one(ctx: Context, key: str) -> None:
    assert refused(add_operator_key, ctx, key, T0) == "request.invalid"


def test_enrolment_needs_terms_and_privacy_consent_and_a_mainland_mobile(ctx: Context) -> None:
    assert refused(enrol, ctx, "13900139000", {"terms": True}, T0) == "member.consent_required"
    assert refused(enrol, ctx, "12345", {"terms": True, "privacy": True}, T0) == "request.invalid"
    a = enrol(ctx, "+86 139-0013-9000", {"terms": True, "privacy": True}, T0)
    b = enrol(ctx, "13900139000", {"terms": True, "privacy": True}, T0)
    assert a.member_id == b.member_id and a.phone_masked == "139****9000"


def test_pages_of_orders_and_history_cover_everything_once_newest_first(ctx: Context) -> None:
    member = enrol(ctx, "13900139000", {"terms": True, "privacy": True}, T0).member_id
    for n in range(5):
        paid_at = T0 + timedelta(minutes=n // 2)  # ties in time are broken by id
        record_order(
            ctx, "tea", order_ref=f"o{n}", member_id=member, amount_fen=500, paid_at=paid_at
        )
    seen, cursor, pages = [], None, 0
    while True:
        page = list_orders(ctx, "tea", cursor=cursor, limit=2)
        seen += [(o.paid_at, o.order_ref) for o in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3 and len(seen) == len(set(seen)) == 5
    assert [at for at, _ in seen] == sorted((at for at, _ in seen), reverse=True)
    first = history(ctx, member, cursor=None, limit=3)
    rest = history(ctx, member, cursor=first.next_cursor, limit=3)
    ids = [h.entry_id for h in [*first.items, *rest.items]]
    assert len(ids) == len(set(ids)) == 5 and rest.next_cursor is None
    assert refused(list_orders, ctx, "tea", cursor="not-a-cursor", limit=2) == "request.invalid"
