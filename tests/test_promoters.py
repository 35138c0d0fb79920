"""The referral graph and reward accrual at the service layer (jifen.promoters, issue 14): bound
once, no cycles, operator changes audited; rewards pending at payment, accrued as money owed from
the operator's revenue when the return window ends, reversed when refunded inside it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from jifen.alliance.members import enrol
from jifen.alliance.merchants import Merchant, MerchantStatus, create_merchant
from jifen.alliance.orders import cancel_order, record_order, refund_order
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.errors import JifenError
from jifen.jobs import run_jobs
from jifen.ledger import queries
from jifen.ledger.model import REFERRAL_PAYABLE, REVENUE
from jifen.promoters import (
    Reward,
    accrual_key,
    accrue_due,
    bind_by_code,
    bind_recruiter,
    bind_referrer,
    chain,
    change_referrer,
    list_rewards,
    promoter_code,
    promoter_of_code,
    referrer_of,
    track_orders,
)
from jifen.rules import ReferralRules, RuleDocument
from jifen.store import tables as t

T0 = datetime(2026, 6, 1, 2, tzinfo=UTC)  # 10:00 in Shanghai
WINDOW = timedelta(days=7)  # the default return window


def publish(ctx: Context, referral: ReferralRules, at: datetime) -> None:
    version = ctx.rulebook.draft(RuleDocument(referral=referral), at)
    ctx.rulebook.publish(
        version.number, effective_at=at, reason="referral terms", now=at, points_outstanding=False
    )


@pytest.fixture
def terms() -> ReferralRules:
    """The referral terms in force from T0 (a test overrides them with ``parametrize``)."""
    return ReferralRules(depth=2, direct_bp=30, indirect_bp=20)


@pytest.fixture
def ctx(db_url: str, terms: ReferralRules) -> Iterator[Context]:
    context = open_alliance(db_url, secret="promoters-secret", clock=SimulatedClock(T0))
    publish(context, terms, T0)
    for merchant_id in ("tea", "film"):
        create_merchant(ctx=context, merchant=Merchant(merchant_id, merchant_id, "cafe",
                        MerchantStatus.ACTIVE), now=T0)  # fmt: skip
    yield context
    context.engine.dispose()


def member(ctx: Context, n: int) -> str:
    return enrol(ctx, f"1390013{n:04d}", {"terms": True, "privacy": True}, T0).member_id


def refused(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    with pytest.raises(JifenError) as info:
        call(*args, **kwargs)
    return info.value.code


def move(ctx: Context, to: datetime) -> None:
    assert isinstance(ctx.clock, SimulatedClock)
    ctx.clock.set(to)


def rewards(ctx: Context, **where: str) -> list[Reward]:
    return list(list_rewards(ctx, limit=100, **where).items)  # type: ignore[arg-type]


# -- the graph ----------------------------------------------------------------------------------


def test_a_member_is_bound_once_and_rebinding_the_same_promoter_is_a_no_op(ctx: Context) -> None:
    a, b, c = member(ctx, 1), member(ctx, 2), member(ctx, 3)
    first = bind_referrer(ctx, b, a, "scan")
    assert (first.promoter_id, first.source, first.replayed) == (a, "scan", False)
    again = bind_referrer(ctx, b, a, "link")
    assert again.replayed and again.source == "scan" and again.bound_at == first.bound_at
    assert refused(bind_referrer, ctx, b, c) == "referral.already_bound"
    held = referrer_of(ctx, b)
    assert held is not None and held.promoter_id == a


def test_self_referral_and_cycles_are_refused(ctx: Context) -> None:
    a, b, c = member(ctx, 1), member(ctx, 2), member(ctx, 3)
    assert refused(bind_referrer, ctx, a, a) == "referral.cycle"
    bind_referrer(ctx, b, a)  # A refers B
    bind_referrer(ctx, c, b)  # B refers C: A → B → C
    assert refused(bind_referrer, ctx, a, c) == "referral.cycle"  # C cannot refer A
    assert refused(bind_referrer, ctx, a, b) == "referral.cycle"
    assert refused(change_referrer, ctx, a, c, "fix", "operator") == "referral.cycle"
    with ctx.engine.connect() as conn:
        assert chain(conn, c, 2) == [b, a]
        assert chain(conn, c, 1) == [b]
        assert chain(conn, a, 2) == []


def test_unknown_and_erased_promoters_are_refused(ctx: Context) -> None:
    a = member(ctx, 1)
    assert refused(bind_referrer, ctx, a, "m-nobody") == "referral.promoter_not_found"
    assert refused(bind_referrer, ctx, "m-nobody", a) == "member.not_found"
    b = member(ctx, 2)
    with ctx.writer.begin() as conn:
        conn.execute(t.members.update().where(t.members.c.member_id == b).values(erased_at=T0))
    assert refused(bind_referrer, ctx, a, b) == "referral.promoter_not_found"


def test_a_promoter_code_binds_its_member_and_cannot_be_forged(ctx: Context) -> None:
    a, b = member(ctx, 1), member(ctx, 2)
    code = promoter_code(ctx, a)
    assert code == promoter_code(ctx, a) and code.startswith(a + "-")
    assert promoter_of_code(ctx, code) == a
    assert refused(promoter_of_code, ctx, a + "-00000000") == "referral.promoter_not_found"
    assert refused(promoter_of_code, ctx, "nonsense") == "referral.promoter_not_found"
    assert bind_by_code(ctx, b, code, "link").promoter_id == a


def test_the_operator_changes_a_referrer_only_with_a_reason_and_an_audit_record(
    ctx: Context,
) -> None:
    a, b, c = member(ctx, 1), member(ctx, 2), member(ctx, 3)
    bind_referrer(ctx, c, a)
    assert refused(change_referrer, ctx, c, b, "  ", "operator key:k1") == "request.invalid"
    changed = change_referrer(ctx, c, b, "member asked: wrong code scanned", "operator key:k1")
    assert changed.promoter_id == b and changed.changed_at == T0 and changed.source == "scan"
    with ctx.engine.connect() as conn:
        records = conn.execute(select(t.audit_records).where(t.audit_records.c.subject == c)).all()
    assert len(records) == 1
    record = records[0]
    assert record.action == "referral.referrer" and record.actor == "operator key:k1"
    assert record.reason == "member asked: wrong code scanned"
    assert record.query == f"promoter {a} -> {b}"
    assert change_referrer(ctx, c, b, "again", "operator").replayed  # no second record
    with ctx.engine.connect() as conn:
        count = conn.execute(select(t.audit_records.c.record_id)).all()
    assert len(count) == 1


def test_a_merchants_recruiter_is_set_by_the_operator_with_an_audit_record(ctx: Context) -> None:
    a, b = member(ctx, 1), member(ctx, 2)
    assert refused(bind_recruiter, ctx, "tea", a, reason="", actor="op") == "request.invalid"
    assert refused(bind_recruiter, ctx, "nope", a, reason="r", actor="op") == "merchant.not_found"
    first = bind_recruiter(ctx, "tea", a, reason="onboarding", actor="op")
    assert first.bound_at == T0 and not first.replayed
    assert bind_recruiter(ctx, "tea", a, reason="again", actor="op").replayed
    move(ctx, T0 + timedelta(days=3))
    moved = bind_recruiter(ctx, "tea", b, reason="recruiter left", actor="op")
    assert moved.promoter_id == b and moved.bound_at == T0 + timedelta(days=3)
    with ctx.engine.connect() as conn:
        actions = conn.execute(
            select(t.audit_records.c.action, t.audit_records.c.query).order_by(
                t.audit_records.c.record_id
            )
        ).all()
    assert [tuple(r) for r in actions] == [
        ("referral.recruiter", f"promoter - -> {a}"),
        ("referral.recruiter", f"promoter {a} -> {b}"),
    ]


# -- accrual ------------------------------------------------------------------------------------


def referred_trio(ctx: Context) -> tuple[str, str, str]:
    """A refers B, B refers C."""
    a, b, c = member(ctx, 1), member(ctx, 2), member(ctx, 3)
    bind_referrer(ctx, b, a)
    bind_referrer(ctx, c, b)
    return a, b, c


def payable_entries(ctx: Context) -> list[tuple[str, list[tuple[str, int]]]]:
    """(memo, legs) of every entry that touches what is owed to promoters."""
    with ctx.engine.connect() as conn:
        journal = queries.journal(conn, chain_id=None, after=None, limit=1000)
    return [
        (str(e.detail.get("memo", "")), [(account, amount) for account, _, amount, _ in e.legs])
        for e in journal
        if any(account == REFERRAL_PAYABLE for account, *_ in e.legs)
    ]


def test_rewards_accrue_two_levels_deep_and_a_refund_inside_the_window_reverses(
    ctx: Context,
) -> None:
    a, b, c = referred_trio(ctx)
    record_order(ctx, "tea", order_ref="o1", member_id=c, amount_fen=10_000, paid_at=T0)
    record_order(ctx, "tea", order_ref="o2", member_id=c, amount_fen=5_000, paid_at=T0)
    assert track_orders(ctx) == 4
    assert track_orders(ctx) == 0  # the cursor moved: nothing twice
    pending = {(r.order_ref, r.promoter_id): r for r in rewards(ctx, state="pending")}
    assert {k: (r.kind, r.share_bp, r.fen) for k, r in pending.items()} == {
        ("o1", b): ("direct", 30, 30),
        ("o1", a): ("indirect", 20, 20),
        ("o2", b): ("direct", 30, 15),
        ("o2", a): ("indirect", 20, 10),
    }
    assert all(r.due_at == T0 + WINDOW and r.month is None for r in pending.values())
    move(ctx, T0 + timedelta(days=2))
    refund_order(ctx, "tea", "o2", refund_ref="r1", refund_fen=5_000)  # inside the window
    assert accrue_due(ctx).accrued == 0  # nothing due yet
    move(ctx, T0 + WINDOW + timedelta(hours=1))
    run_jobs(ctx)  # releases the points, then accrues the rewards
    settled = {(r.order_ref, r.promoter_id): r for r in rewards(ctx)}
    assert {k: (r.state, r.basis_fen, r.fen, r.month) for k, r in settled.items()} == {
        ("o1", b): ("accrued", 10_000, 30, "2026-06"),
        ("o1", a): ("accrued", 10_000, 20, "2026-06"),
        ("o2", b): ("reversed", 0, 0, "2026-06"),
        ("o2", a): ("reversed", 0, 0, "2026-06"),
    }
    entries = payable_entries(ctx)
    assert sorted(legs for _, legs in entries) == [
        [(REVENUE, -30), (REFERRAL_PAYABLE, 30)],
        [(REVENUE, -20), (REFERRAL_PAYABLE, 20)],
    ]
    assert all("order o1" in memo and "funded_by operator_revenue" in memo for memo, _ in entries)
    direct = settled["o1", b]
    assert direct.entry_id is not None and ctx.ledger.entry(direct.entry_id) is not None
    # running again accrues nothing twice; a later refund claws nothing back
    assert accrue_due(ctx).accrued == 0
    refund_order(ctx, "tea", "o1", refund_ref="r2", refund_fen=10_000)
    run_jobs(ctx)
    assert len(payable_entries(ctx)) == 2
    assert {r.state for r in rewards(ctx, promoter_id=b)} == {"accrued", "reversed"}


def test_an_accrual_key_is_the_rewards_own(ctx: Context) -> None:
    """Submitting a reward's entry again (a crashed pass retried) answers the first entry."""
    _, b, c = referred_trio(ctx)
    record_order(ctx, "tea", order_ref="o1", member_id=c, amount_fen=10_000, paid_at=T0)
    move(ctx, T0 + WINDOW)
    run_jobs(ctx)
    reward = next(r for r in rewards(ctx) if r.promoter_id == b)
    assert reward.entry_id is not None
    receipt = ctx.ledger.entry(reward.entry_id)
    assert receipt is not None and receipt.key == accrual_key(reward.reward_id)


def test_a_cancelled_order_reverses_and_a_partial_refund_shrinks_the_basis(ctx: Context) -> None:
    _, b, c = referred_trio(ctx)
    record_order(ctx, "tea", order_ref="o1", member_id=c, amount_fen=10_000, paid_at=T0)
    record_order(ctx, "film", order_ref="o2", member_id=c, amount_fen=9_999, paid_at=T0)
    track_orders(ctx)
    cancel_order(ctx, "tea", "o1")
    refund_order(ctx, "film", "o2", refund_ref="r1", refund_fen=3_333)
    move(ctx, T0 + WINDOW)
    run_jobs(ctx)
    direct = {r.order_ref: r for r in rewards(ctx, promoter_id=b)}
    assert (direct["o1"].state, direct["o1"].fen) == ("reversed", 0)
    assert (direct["o2"].state, direct["o2"].basis_fen, direct["o2"].fen) == ("accrued", 6_666, 19)


@pytest.mark.parametrize("terms", [ReferralRules(direct_bp=100, monthly_cap_fen=250)])
def test_the_monthly_cap_stops_a_promoters_rewards(ctx: Context) -> None:
    _, b, c = referred_trio(ctx)
    for n in range(3):  # 100 fen each at 1%
        record_order(ctx, "tea", order_ref=f"o{n}", member_id=c, amount_fen=10_000, paid_at=T0)
    move(ctx, T0 + WINDOW)
    run_jobs(ctx)
    got = sorted((r.order_ref, r.state, r.fen, r.capped_fen) for r in rewards(ctx, promoter_id=b))
    assert got == [
        ("o0", "accrued", 100, 0),
        ("o1", "accrued", 100, 0),
        ("o2", "accrued", 50, 50),
    ]
    assert [r.kind for r in rewards(ctx)] == ["direct"] * 3  # depth 1: no indirect share
    # the next month has room again
    move(ctx, datetime(2026, 7, 1, 2, tzinfo=UTC))
    record_order(ctx, "tea", order_ref="o9", member_id=c, amount_fen=10_000,
                 paid_at=ctx.clock.now())  # fmt: skip
    move(ctx, datetime(2026, 7, 1, 2, tzinfo=UTC) + WINDOW)
    run_jobs(ctx)
    july = [r for r in rewards(ctx, promoter_id=b) if r.order_ref == "o9"]
    assert [(r.state, r.fen, r.month) for r in july] == [("accrued", 100, "2026-07")]


@pytest.mark.parametrize("terms", [ReferralRules(recruiter_bp=50, recruiter_months=1)])
def test_a_recruiters_share_stops_after_its_months(ctx: Context) -> None:
    recruiter, buyer = member(ctx, 1), member(ctx, 2)
    bind_recruiter(ctx, "tea", recruiter, reason="onboarding", actor="op")
    record_order(ctx, "tea", order_ref="in", member_id=buyer, amount_fen=20_000, paid_at=T0)
    move(ctx, T0 + timedelta(days=31))  # 2026-07-02: past one month from 06-01
    record_order(ctx, "tea", order_ref="late", member_id=buyer, amount_fen=20_000,
                 paid_at=ctx.clock.now())  # fmt: skip
    move(ctx, T0 + timedelta(days=31) + WINDOW)
    run_jobs(ctx)
    got = [(r.order_ref, r.kind, r.state, r.fen) for r in rewards(ctx)]
    assert got == [("in", "recruiter", "accrued", 100)]


def test_a_referrer_bound_after_the_payment_earns_nothing_on_it(ctx: Context) -> None:
    a, b = member(ctx, 1), member(ctx, 2)
    record_order(ctx, "tea", order_ref="before", member_id=b, amount_fen=10_000, paid_at=T0)
    move(ctx, T0 + timedelta(hours=1))
    bind_referrer(ctx, b, a)
    record_order(ctx, "tea", order_ref="after", member_id=b, amount_fen=10_000,
                 paid_at=ctx.clock.now())  # fmt: skip
    track_orders(ctx)
    assert [r.order_ref for r in rewards(ctx)] == ["after"]


def test_tracking_pages_through_many_orders_in_bounded_passes(ctx: Context) -> None:
    _, b, c = referred_trio(ctx)
    for n in range(7):
        record_order(ctx, "tea", order_ref=f"o{n}", member_id=c, amount_fen=1_000, paid_at=T0)
    assert track_orders(ctx, limit=3) == 14
    assert track_orders(ctx, limit=3) == 0
    record_order(ctx, "tea", order_ref="o7", member_id=c, amount_fen=1_000, paid_at=T0)
    assert track_orders(ctx, limit=3) == 2
    assert len(rewards(ctx, promoter_id=b)) == 8


def test_binds_racing_in_opposite_directions_never_make_a_cycle(ctx: Context) -> None:
    """A refers B while B refers A, at the same instant: the graph lock serialises them, so one
    binds and the other sees it and is refused."""
    for round_ in range(3):
        a, b = member(ctx, 10 + 2 * round_), member(ctx, 11 + 2 * round_)
        barrier = threading.Barrier(2)

        def bind(member_id: str, promoter_id: str, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            try:
                bind_referrer(ctx, member_id, promoter_id)
            except JifenError as exc:
                return exc.code
            return "bound"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(bind, (a, b), (b, a)))
        assert outcomes == ["bound", "referral.cycle"]


def test_an_erased_promoter_earns_nothing_and_the_level_above_still_does(ctx: Context) -> None:
    a, b, c = referred_trio(ctx)
    with ctx.writer.begin() as conn:
        conn.execute(t.members.update().where(t.members.c.member_id == b).values(erased_at=T0))
    record_order(ctx, "tea", order_ref="o1", member_id=c, amount_fen=10_000, paid_at=T0)
    track_orders(ctx)
    assert [(r.promoter_id, r.kind, r.fen) for r in rewards(ctx)] == [(a, "indirect", 20)]
