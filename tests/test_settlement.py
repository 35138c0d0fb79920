"""Partner billing and the reserve: the money legs every flow writes, statements, and the rule
that the reserve always equals the value of the funded points still outstanding (brief §4)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from jifen.alliance.merchants import Merchant, MerchantStatus, create_merchant
from jifen.alliance.orders import issue_charge_fen
from jifen.app import SimulatedClock, open_alliance
from jifen.app.clock import business_date
from jifen.jobs import UntilInFuture, run_jobs
from jifen.ledger import Earn, Expire, Ledger, LedgerError, Redeem, Refund, Release, Void, verify
from jifen.ledger import _tables as t
from jifen.settlement import Movement, breakage_rate_bp, reserve_status, statement

T0 = datetime(2026, 5, 1, 2, tzinfo=UTC)
DAY = timedelta(days=1)


def money(engine: object, account: str) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        total = conn.execute(
            select(func.sum(t.balances.c.amount)).where(t.balances.c.account_id == account)
        ).scalar_one()
    return int(total or 0)


def earn(key: str, member: str, merchant: str, points: int, *, value: int = 1) -> Earn:
    return Earn(
        key=key,
        member_id=member,
        merchant_id=merchant,
        order_ref=key,
        amount_fen=points * 100,
        points=points,
        rule_version=1,
        paid_at=T0,
        release_at=T0 + 7 * DAY,
        expires_at=T0 + 90 * DAY,
        charge_fen=issue_charge_fen(points, 1200),
        value_fen_per_point=value,
    )


@pytest.mark.parametrize(
    ("points", "fen_per_1000", "charge_fen"),
    [
        (1, 1200, 2),  # 1.2 fen rounds up
        (5, 1200, 6),  # exact
        (999, 1200, 1199),  # 1198.8 rounds up
        (1000, 1000, 1000),  # no margin
        (7, 1001, 8),  # 7.007 rounds up
    ],
)
def test_issue_charge_rounds_up_to_the_fen_per_order(
    points: int, fen_per_1000: int, charge_fen: int
) -> None:
    assert issue_charge_fen(points, fen_per_1000) == charge_fen


def test_an_earn_charges_the_issuer_and_funds_the_reserve_with_the_value(ledger: Ledger) -> None:
    ledger.open_merchant("tea", T0)
    ledger.submit(earn("e1", "ana", "tea", 500), T0)
    assert money(ledger.engine, "merchant:tea:cny") == -600
    assert money(ledger.engine, "system:reserve") == 500
    assert money(ledger.engine, "system:revenue") == 100


def test_a_charge_below_the_points_value_is_refused(ledger: Ledger) -> None:
    ledger.open_merchant("tea", T0)
    bad = dataclasses.replace(earn("e1", "ana", "tea", 500), charge_fen=499)
    with pytest.raises(LedgerError) as refused:
        ledger.submit(bad, T0)
    assert refused.value.code == "amount.invalid"


def test_each_flow_moves_reserve_money_exactly(ledger: Ledger) -> None:
    for m in ("tea", "film"):
        ledger.open_merchant(m, T0)
    a = ledger.submit(earn("e1", "ana", "tea", 300), T0).entry_id
    b = ledger.submit(earn("e2", "ana", "tea", 200), T0).entry_id
    v = ledger.submit(earn("e3", "ana", "tea", 50), T0).entry_id
    ledger.submit(Void("v3", v), T0 + DAY)  # cancelled: value back to the issuer
    assert money(ledger.engine, "merchant:tea:cny") == -(360 + 240 + 60) + 50
    for lot in (a, b):
        ledger.submit(Release(f"r-{lot}", lot), T0 + 7 * DAY)
    ledger.submit(Redeem("x1", "ana", "film", 400, "f1"), T0 + 8 * DAY)  # spans both lots
    assert money(ledger.engine, "merchant:film:cny") == 400
    refund = ledger.submit(Refund("rf", a, 15_000), T0 + 9 * DAY)  # half of order a: 150 points
    assert refund.detail["credited_fen"] == 100  # 100 still in the lots (of b), 50 shortfall
    d = ledger.submit(earn("e4", "bo", "tea", 70), T0 + 10 * DAY).entry_id
    revenue = money(ledger.engine, "system:revenue")
    ledger.submit(Expire("x", d), T0 + 91 * DAY)  # breakage: the value goes to the operator
    assert money(ledger.engine, "system:revenue") == revenue + 70
    status = verify(ledger.engine)
    assert status.ok, status.findings
    assert status.totals["reserve_fen"] == status.totals["liability_fen"] == 0
    assert money(ledger.engine, "system:reserve") == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["earn", "release", "redeem", "refund", "void", "expire"]),
            st.integers(1, 3),
            st.integers(1, 900),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_the_reserve_always_equals_the_value_of_outstanding_points(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int, int]]
) -> None:
    db = tmp_path_factory.mktemp("reserve") / "r.db"
    ledger = Ledger.open(f"sqlite:///{db}")
    for m in ("tea", "film"):
        ledger.open_merchant(m, T0)
    lots: list[str] = []
    now = T0
    for n, (kind, member, amount) in enumerate(steps):
        now += DAY
        try:
            if kind == "earn" or not lots:
                lots.append(
                    ledger.submit(earn(f"e{n}", f"m{member}", "tea", amount, value=2), now).entry_id
                )
            elif kind == "release":
                ledger.submit(Release(f"r{n}", lots[amount % len(lots)]), now + 8 * DAY)
                now += 8 * DAY
            elif kind == "redeem":
                ledger.submit(Redeem(f"x{n}", f"m{member}", "film", amount, "o"), now)
            elif kind == "refund":
                ledger.submit(Refund(f"f{n}", lots[amount % len(lots)], amount), now)
            elif kind == "void":
                ledger.submit(Void(f"v{n}", lots[amount % len(lots)]), now)
            else:
                now += 100 * DAY
                ledger.submit(Expire(f"x{n}", lots[amount % len(lots)]), now)
        except LedgerError:
            continue  # refused (not due, insufficient, ...): nothing written
        status = reserve_status_of(ledger)
        assert status[0] == status[1], (kind, status)
    report = verify(ledger.engine)
    assert report.ok, report.findings
    ledger.engine.dispose()


def reserve_status_of(ledger: Ledger) -> tuple[int, int]:
    with ledger.engine.connect() as conn:
        liability = conn.execute(
            select(
                func.coalesce(
                    func.sum(
                        (t.lots.c.pending + t.lots.c.available) * t.lots.c.value_fen_per_point
                    ),
                    0,
                )
            )
        ).scalar_one()
    return money(ledger.engine, "system:reserve"), int(liability)


def test_a_statement_groups_a_day_of_movements_and_nets_them() -> None:
    day = date(2026, 5, 1)
    s = statement(
        "tea",
        day,
        [
            Movement("tea", "earn", fen=-1200, points_issued=1000),
            Movement("tea", "earn", fen=-6),
            Movement("tea", "redeem", fen=300, points_accepted=300),
            Movement("tea", "refund", fen=40),
            Movement("tea", "void", fen=10),
            Movement("tea", "reverse", fen=-300, points_accepted=-300),
        ],
    )
    assert (s.charges_fen, s.reimbursements_fen, s.credits_fen, s.adjustments_fen) == (
        1206,
        300,
        50,
        -300,
    )
    assert s.net_fen == 300 + 50 - 300 - 1206
    assert (s.points_issued, s.points_accepted) == (1000, 0)


@pytest.mark.parametrize(
    ("expired", "redeemed", "rate_bp"), [(0, 0, 0), (1, 3, 2500), (2, 1, 6666), (5, 0, 10_000)]
)
def test_breakage_rate_is_the_expired_share_rounded_down(
    expired: int, redeemed: int, rate_bp: int
) -> None:
    assert breakage_rate_bp(expired, redeemed) == rate_bp


def test_jobs_refuse_to_close_a_day_that_is_not_over(tmp_path: object) -> None:
    clock = SimulatedClock(T0)
    ctx = open_alliance(f"sqlite:///{tmp_path}/j.db", secret="s", clock=clock)  # type: ignore[str-bytes-safe]
    create_merchant(ctx, Merchant("tea", "tea", "cafe", MerchantStatus.ACTIVE), T0)
    with pytest.raises(UntilInFuture) as refused:
        run_jobs(ctx, business_date(T0))
    assert refused.value.code == "jobs.until_in_future"
    assert run_jobs(ctx, business_date(T0) - DAY) == []  # nothing booked yet: nothing to close
    assert reserve_status(ctx).covered
    ctx.engine.dispose()


# -- money the provider moved (issue 10): collected by split, returned, paid out -------------------


def test_money_moved_at_the_provider_settles_what_the_books_owed(ledger: Ledger) -> None:
    """An issue charge collected by split leaves the merchant owing nothing for it; a split
    return pays back what a refund credited; a payout pays a settled net out of the reserve's
    cash. The cash accounts hold (as assets, below zero) exactly what the receivers hold."""
    from jifen.ledger import Collect, PayOut, ReturnSplit, Settle

    for m in ("tea", "film"):
        ledger.open_merchant(m, T0)
    lot = ledger.submit(earn("e1", "ana", "tea", 500), T0).entry_id  # charge 600: 500 + 100
    ledger.submit(Collect("c1", "tea", 500, 100, "4200001:split-1:d1"), T0)
    assert money(ledger.engine, "merchant:tea:cny") == 0
    assert money(ledger.engine, "system:reserve_cash") == -500
    assert money(ledger.engine, "system:fee_cash") == -100
    refund = ledger.submit(Refund("rf", lot, 10_000), T0 + DAY)  # a fifth: 100 points voided
    assert refund.detail["credited_fen"] == 100
    assert money(ledger.engine, "merchant:tea:cny") == 100  # owed back to the merchant ...
    ledger.submit(ReturnSplit("ret1", "tea", 100, 0, "4200001:return-1"), T0 + DAY)
    assert money(ledger.engine, "merchant:tea:cny") == 0  # ... and paid back by the return
    assert money(ledger.engine, "system:reserve_cash") == -400
    ledger.submit(Release("r1", lot), T0 + 8 * DAY)
    ledger.submit(Redeem("x1", "ana", "film", 300, "f1"), T0 + 8 * DAY)
    ledger.submit(Settle("s1", "film", "2026-05-09", 300), T0 + 9 * DAY)
    ledger.submit(PayOut("p1", "film", 300, "depository:transfer-1"), T0 + 9 * DAY)
    assert money(ledger.engine, "system:clearing") == 0
    assert money(ledger.engine, "system:reserve_cash") == -100  # backs the 100 points left
    assert money(ledger.engine, "system:reserve") == 100
    status = verify(ledger.engine)
    assert status.ok, status.findings


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda ops: ops.Collect("c", "tea", 0, 0, "r"), "amount.invalid"),
        (lambda ops: ops.Collect("c", "tea", -1, 5, "r"), "amount.invalid"),
        (lambda ops: ops.Collect("c", "tea", 5, 0, "bad ref with spaces"), "entry.invalid"),
        (lambda ops: ops.PayOut("p", "tea", 0, "r"), "amount.invalid"),
        (lambda ops: ops.Collect("c", "ghost", 5, 0, "r"), "account.not_found"),
    ],
)
def test_a_bad_money_movement_is_refused(ledger: Ledger, make: object, code: str) -> None:
    import jifen.ledger as ops

    ledger.open_merchant("tea", T0)
    with pytest.raises(LedgerError) as refused:
        ledger.submit(make(ops), T0)  # type: ignore[operator]
    assert refused.value.code == code


def test_a_statement_counts_what_was_collected_and_returned() -> None:
    day = date(2026, 5, 1)
    moved = [
        Movement("tea", "earn", fen=-600, points_issued=500),
        Movement("tea", "collect", fen=600),
        Movement("tea", "refund", fen=100),
        Movement("tea", "split_return", fen=-100),
    ]
    s = statement("tea", day, moved)
    assert (s.charges_fen, s.collected_fen, s.credits_fen, s.returned_fen) == (600, 600, 100, 100)
    assert s.net_fen == 0  # everything was paid at the provider already
