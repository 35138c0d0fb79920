"""The money path at the service layer against the sandbox provider: a payment applied once
whatever the callbacks, the issue charge split to the reserve and the fee and booked, a refund
that returns the split before it pays the customer back, a payout, and the books and the
provider agreeing to the fen."""

from __future__ import annotations

from pathlib import Path

import pytest

from funds_kit import Money, member, money
from jifen.funds import (
    create_payment,
    get_payment,
    payouts,
    queue_payouts,
    refunds_of,
    request_refund,
)
from jifen.funds.records import split_orders
from jifen.ledger import verify
from jifen.settlement import statements
from sandbox_kit import OPERATOR, RESERVE, SHOP_A


@pytest.fixture
def m(db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Money:
    with money(db_url, tmp_path, tmp_path_factory) as found:
        yield found  # type: ignore[misc]


def _cny(m: Money, account: str) -> int:
    return m.ctx.ledger.account_balance(account) if hasattr(m.ctx.ledger, "account_balance") else 0


def test_a_paid_order_earns_once_and_its_charge_is_split_and_booked(m: Money) -> None:
    ana = member(m.ctx)
    created = create_payment(
        m.ctx,
        m.funds,
        "cafe",
        order_ref="o-1",
        member_id=ana,
        amount_fen=10_000,
        description="午餐",
    )
    assert created.state == "created" and created.pay_url
    m.kit.faults(notify_duplicate=True)
    m.pay(created.out_trade_no)
    m.kit.wait_for(lambda: len(m.inbox.received) >= 2)
    m.deliver()  # the duplicate changes nothing
    paid = get_payment(m.ctx, created.out_trade_no)
    assert paid.state == "paid" and paid.transaction_id
    assert m.ctx.ledger.balance(ana).pending == 100  # one point per yuan
    m.step(65)  # settled: the split is sent
    (order,) = split_orders_of(m, created.out_trade_no)
    assert order.state == "processing"
    m.step(60)  # the provider finished it
    (order,) = split_orders_of(m, created.out_trade_no)
    assert order.state == "finished"
    assert {(line.account, line.fen, line.result) for line in order.lines} == {
        (RESERVE, 100, "SUCCESS"),
        (OPERATOR, 20, "SUCCESS"),
    }
    balances = m.kit.balances()
    assert balances[f"{RESERVE}:AVAILABLE"] == 100 and balances[f"{OPERATOR}:AVAILABLE"] == 20
    assert balances[f"{SHOP_A}:FROZEN"] == 0  # the remainder went to the merchant
    assert verify(m.ctx.engine).ok


def split_orders_of(m: Money, out_trade_no: str) -> list:  # type: ignore[type-arg]
    with m.ctx.engine.connect() as conn:
        return split_orders(conn, out_trade_no=out_trade_no)


def test_a_refund_returns_the_split_then_pays_the_customer_back(m: Money) -> None:
    ana = member(m.ctx)
    p = create_payment(
        m.ctx,
        m.funds,
        "cafe",
        order_ref="o-2",
        member_id=ana,
        amount_fen=20_000,
        description="晚餐",
    )
    m.pay(p.out_trade_no)
    m.step(65)
    m.step(60)
    refund = request_refund(m.ctx, "cafe", p.out_trade_no, refund_ref="r-1", refund_fen=20_000)
    assert refund.credited_fen == 200 and refund.state == "waiting"
    assert m.ctx.ledger.balance(ana).pending == 0  # the points side at once
    for _ in range(4):
        m.step(60)
    # 20,000 − the provider's fee (120) − the fee margin kept (40) is short of the refund: the
    # refund waits, visibly, for the merchant to top up its balance, and is never half-paid
    (waiting,) = refunds_of(m.ctx, p.out_trade_no)
    assert waiting.state == "refunding" and "NOT_ENOUGH" in (waiting.last_error or "")
    assert m.kit.balances()[f"{SHOP_A}:AVAILABLE"] == 20_000 - 120 - 40
    m.kit.ok(m.kit.control.post(f"/sandbox/merchants/{SHOP_A}/top-up", json={"amount": 1_000}))
    m.step(60)
    m.step(60)
    (done,) = refunds_of(m.ctx, p.out_trade_no)
    assert done.state == "succeeded" and done.last_error is None, done
    balances = m.kit.balances()
    assert balances[f"{RESERVE}:AVAILABLE"] == 0  # the reserve gave its 200 back
    assert balances[f"{OPERATOR}:AVAILABLE"] == 40  # the fee margin stays
    assert verify(m.ctx.engine).ok


def test_a_redemption_elsewhere_is_paid_out_from_the_reserve(m: Money) -> None:
    from datetime import timedelta

    from jifen.alliance.redemptions import new_code, redeem
    from jifen.jobs import run_jobs

    ana = member(m.ctx)
    p = create_payment(
        m.ctx,
        m.funds,
        "cafe",
        order_ref="o-3",
        member_id=ana,
        amount_fen=100_000,
        description="宴请",
    )
    m.pay(p.out_trade_no)
    m.step(65)
    m.step(60)
    m.step(8 * 86_400)  # the return window ends: the points are released by the jobs
    run_jobs(m.ctx)
    code, _ = new_code(m.ctx, ana, m.ctx.clock.now())
    redeem(m.ctx, "shop", code=code, points=300, order_ref="s-1", order_amount_fen=10_000)
    m.step(86_400)
    run_jobs(m.ctx)  # the day of the redemption is settled: the shop is owed 300 fen
    assert [
        (s.merchant_id, s.net_fen) for s in statements(m.ctx, "shop", cursor=None, limit=50).items
    ] == [("shop", 300)]
    m.step(0)
    (paid,) = payouts(m.ctx, merchant_id="shop")
    assert (paid.fen, paid.state) == (300, "succeeded"), paid
    assert queue_payouts(m.ctx, m.ctx.clock.now().date() - timedelta(days=1)) == 0  # owed nothing
    assert m.kit.balances()[f"{RESERVE}:AVAILABLE"] == 1_000 - 300
    assert verify(m.ctx.engine).ok


def test_the_day_reconciles_matched_but_for_a_payment_jifen_never_made(m: Money) -> None:
    from datetime import date

    from jifen.funds.reconciliation import latest_report, reconcile_day
    from jifen.payments import ReconciliationStatus

    ana = member(m.ctx)
    trades = []
    for i, amount in enumerate((10_000, 25_000, 7_300)):
        p = create_payment(
            m.ctx,
            m.funds,
            "cafe",
            order_ref=f"r-{i}",
            member_id=ana,
            amount_fen=amount,
            description="午餐",
        )
        m.pay(p.out_trade_no)
        trades.append(p.out_trade_no)
    m.step(65)
    m.step(60)
    m.kit.ok(m.kit.control.post(f"/sandbox/merchants/{SHOP_A}/top-up", json={"amount": 10_000}))
    request_refund(m.ctx, "cafe", trades[1], refund_ref="back-1", refund_fen=5_000)
    for _ in range(4):
        m.step(60)
    assert refunds_of(m.ctx, trades[1])[0].state == "succeeded"
    stranger = m.kit.paid("NOTJIFEN0001", 4_200)  # the merchant's account used outside Jifen
    m.step(86_400)  # 10:05 the next day: the bills exist
    report, csv_text = reconcile_day(m.ctx, m.funds, date(2026, 3, 2))
    breaks = [i for i in report.items if i.status is not ReconciliationStatus.MATCHED]
    assert [(i.kind.value, i.status.value, i.provider_ref) for i in breaks] == [
        ("payment", "missing_ours", stranger)
    ], breaks
    kinds = {i.kind.value for i in report.items}
    assert {"payment", "refund", "split", "return"} <= kinds
    _, csv_again = reconcile_day(m.ctx, m.funds, date(2026, 3, 2))
    assert csv_again == csv_text  # re-running gives the same report
    stored = latest_report(m.ctx, date(2026, 3, 2))
    assert stored.run == 2 and stored.report_csv == csv_text


def test_large_value_lines_raise_alerts_once_per_member_and_day(m: Money) -> None:
    from datetime import timedelta

    from jifen.alliance.orders import record_order
    from jifen.funds import LINES_FEN, check_day, list_alerts
    from jifen.jobs import run_jobs

    ana, bo = member(m.ctx), member(m.ctx, "13900139001")
    big = create_payment(
        m.ctx,
        m.funds,
        "cafe",
        order_ref="big-1",
        member_id=ana,
        amount_fen=LINES_FEN["individual_transfer"],
        description="年会包场",
    )
    m.pay(big.out_trade_no)
    small = create_payment(
        m.ctx,
        m.funds,
        "cafe",
        order_ref="small-1",
        member_id=bo,
        amount_fen=LINES_FEN["individual_transfer"] - 1,
        description="宴请",
    )
    m.pay(small.out_trade_no)
    for n, fen in enumerate((3_000_000, 2_000_000)):  # ¥50,000 in cash over two orders
        record_order(
            m.ctx,
            "shop",
            order_ref=f"cash-{n}",
            member_id=bo,
            amount_fen=fen,
            paid_at=m.ctx.clock.now(),
        )
    m.step(86_400)
    run_jobs(m.ctx)  # closing the day raises its alerts
    alerts = list_alerts(m.ctx, cursor=None, limit=50).items
    assert {(a.subject, a.line, a.total_fen) for a in alerts} == {
        (f"member:{ana}", "individual_transfer", 50_000_000),
        (f"member:{bo}", "cash", 5_000_000),
    }  # bo's ¥499,999.99 through the provider stays under its line
    day = (m.ctx.clock.now() - timedelta(days=1)).date()
    assert check_day(m.ctx, day) == 2 and len(list_alerts(m.ctx, cursor=None, limit=50).items) == 2


def test_a_plan_splits_each_part_at_its_moment_and_then_releases_the_rest(m: Money) -> None:
    from jifen.funds import file_plan, fulfil, register_receiver
    from jifen.payments import Condition, PlanPart, ReceiverType, SplitPlan

    brand, courier = "1900000102", "1900000101"  # two sandbox merchants as the plan's partners
    register_receiver(
        m.ctx,
        m.funds,
        "cafe",
        name="brand",
        type=ReceiverType.MERCHANT,
        account=brand,
        real_name="示例零售连锁有限公司",
    )
    del courier
    file_plan(
        m.ctx,
        "cafe",
        SplitPlan(
            parts=(
                PlanPart(receiver="brand", ratio_bp=500),
                PlanPart(receiver="brand", fixed_fen=300, when=Condition.SHIPPED),
            )
        ),
    )
    p = create_payment(
        m.ctx,
        m.funds,
        "cafe",
        order_ref="plan-1",
        member_id=member(m.ctx),
        amount_fen=10_000,
        description="外卖",
    )
    m.pay(p.out_trade_no)
    m.step(65)
    m.step(60)
    orders = {o.condition: o for o in split_orders_of(m, p.out_trade_no)}
    assert orders["paid"].state == "finished" and orders["shipped"].state == "waiting"
    assert {(line.receiver, line.fen) for line in orders["paid"].lines} == {
        ("reserve", 100),
        ("operator_fee", 20),
        ("brand", 500),
    }
    assert fulfil(m.ctx, "cafe", p.out_trade_no, Condition.SHIPPED) == 1
    assert fulfil(m.ctx, "cafe", p.out_trade_no, Condition.SHIPPED) == 0  # said twice: once
    m.step(5)
    m.step(60)
    m.step(60)  # the shipped part, then the release of the remainder
    orders = {o.condition: o for o in split_orders_of(m, p.out_trade_no)}
    assert orders["shipped"].state == "finished" and orders["unfreeze"].state == "finished"
    txn = m.kit.ok(
        m.kit.control.get(
            f"/sandbox/transactions/{get_payment(m.ctx, p.out_trade_no).transaction_id}"
        )
    )
    assert txn["unsplit_fen"] == 0
    assert m.kit.balances()["1900000102:AVAILABLE"] == 800


def test_a_closed_receiver_leaves_its_part_with_the_merchant_and_the_charge_owed(m: Money) -> None:
    ana = member(m.ctx)
    m.kit.faults(closed_receivers={RESERVE: "ACCOUNT_ABNORMAL"})
    p = create_payment(
        m.ctx,
        m.funds,
        "cafe",
        order_ref="closed-1",
        member_id=ana,
        amount_fen=10_000,
        description="午餐",
    )
    m.pay(p.out_trade_no)
    m.step(65)
    m.step(60)
    (order,) = split_orders_of(m, p.out_trade_no)
    results = {line.receiver: (line.result, line.fail_reason) for line in order.lines}
    assert results == {"reserve": ("CLOSED", "ACCOUNT_ABNORMAL"), "operator_fee": ("SUCCESS", None)}
    assert m.kit.balances().get(f"{RESERVE}:AVAILABLE", 0) == 0
    from jifen.jobs import run_jobs

    m.step(86_400)
    run_jobs(m.ctx)
    (s,) = statements(m.ctx, "cafe", cursor=None, limit=50).items
    assert (s.charges_fen, s.collected_fen, s.net_fen) == (120, 20, -100)  # the value is owed
    assert verify(m.ctx.engine).ok


def test_the_money_loop_reconciles_each_day_once_when_its_bills_are_out(m: Money) -> None:
    from datetime import date, timedelta

    from jifen.funds.reconciliation import latest_report
    from jifen.jobs.scheduler import MoneyLoop
    from jifen.store import tables as t

    p = create_payment(m.ctx, m.funds, "cafe", order_ref="d-1", member_id=member(m.ctx),
                       amount_fen=12_000, description="午餐")  # fmt: skip
    m.pay(p.out_trade_no)
    loop = MoneyLoop(m.ctx, m.funds, interval_s=1)
    before_bills = m.ctx.clock.now().replace(hour=2, minute=29) + timedelta(days=1)  # 10:29 China
    m.step((before_bills - m.ctx.clock.now()).total_seconds())
    assert loop.run_once() is not None
    with m.ctx.engine.connect() as conn:
        assert conn.execute(t.reconciliations.select()).first() is None  # the bills are not out
    m.step(120)  # 10:31 China time: the 2nd's bills are out
    loop.run_once()
    loop.run_once()
    report = latest_report(m.ctx, date(2026, 3, 2))
    assert report.run == 1, "reconciled once, however many passes follow"
    counts = report.summary["counts"]
    assert counts.pop("matched") == len(report.summary["items"]) > 0, report.summary  # type: ignore[attr-defined]
    assert set(counts.values()) == {0}, counts  # type: ignore[attr-defined]
