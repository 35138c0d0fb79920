"""One alliance's money, end to end over real HTTP: 1,000 orders paid through the sandbox provider
at four merchants' tills, split per each merchant's plan (a part on shipment, a fixed part, a
receiver the provider has closed), duplicated notifications, refunds after the splits,
redemptions at other merchants paid back from the reserve; then ``jifen reconcile`` finds every
record matched but the payments made outside Jifen, which it names, and Jifen's books, its
statements, the reserve and the provider's balances agree to the fen; ``jifen verify`` is clean.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from api_server import SECRET
from funds_e2e_kit import Money, money_over_http, sell_all
from jifen.sandbox._payments import fee_of
from jifen.settlement import reserve_status
from jifen.store import tables as t
from sandbox_kit import OPERATOR, RESERVE, SP
from test_cli import jifen

pytestmark = pytest.mark.slow
ENV = os.environ | {"JIFEN_SECRET": SECRET}  # the served store's secret, as in production

MERCHANTS = {"cafe": "cafe", "books": "books", "cinema": "cinema", "gym": "fitness"}
ORDERS, MEMBERS, REFUNDS, REDEMPTIONS = 1_000, 80, 30, 40
FLOAT_FEN = 2_000_000  # each merchant's own money at the provider, for refunds
PLANS = {
    "books": [{"receiver": "courier", "ratio_bp": 500, "when": "shipped"}],
    "cinema": [{"receiver": "chain", "fixed_fen": 300}],
    "gym": [{"receiver": "landlord", "ratio_bp": 1_000}],  # the provider has closed it
}
RECEIVERS = {"books": "courier", "cinema": "chain", "gym": "landlord"}
STRANGERS = {"cafe": 4_200, "gym": 9_900}  # paid at the provider, never through Jifen


def test_a_thousand_orders_reconcile_and_agree_to_the_fen(
    db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rng = random.Random(10)
    with money_over_http(db_url, tmp_path, tmp_path_factory, MERCHANTS) as m:
        _plans(m)
        members = [m.alliance.enrol(f"139{n:08d}", via=rng.choice(list(MERCHANTS)))
                   for n in range(MEMBERS)]  # fmt: skip
        home = {member: rng.choice(list(MERCHANTS)) for member in members}
        orders = []
        for n in range(ORDERS):
            member = rng.choice(members)
            merchant = home[member] if rng.random() < 0.8 else rng.choice(list(MERCHANTS))
            orders.append((merchant, f"o{n:04d}", member, rng.randint(800, 60_000)))
        day_one = m.now().date()

        # -- paid, the first 150 notified twice ---------------------------------------------------
        closed = {m.receivers["landlord"]: "ACCOUNT_ABNORMAL"}  # PUT sets every switch at once
        m.kit.faults(notify_duplicate=True, closed_receivers=closed)
        sold = sell_all(m, orders[:150])
        m.wait_paid(150)
        m.kit.faults(notify_duplicate=False, closed_receivers=closed)
        sold |= sell_all(m, orders[150:])
        m.wait_paid(ORDERS)
        strangers = {merchant: m.kit.paid(f"OUTSIDE{merchant.upper()}", fen,
                                          payer=m.accounts[merchant])
                     for merchant, fen in STRANGERS.items()}  # fmt: skip

        # -- split at settlement, the courier's part on shipment -------------------------------
        m.money_until(lambda: _open(m) == len(books_of(orders)), "the splits at payment")
        books = [sold[ref] for ref in books_of(orders)]
        with m.alliance.merchant("books") as till:
            for out_trade_no in books:
                r = till.post(f"/v1/payments/{out_trade_no}/fulfilment", json={"event": "shipped"})
                assert r.status_code == 200, r.text
        m.money_until(lambda: _open(m) == 0, "the splits on shipment")

        # -- refunds after the splits: the splits are returned first --------------------------
        refunded = rng.sample(orders, REFUNDS)
        for n, (merchant, ref, _, fen) in enumerate(refunded):
            part = fen if n % 3 else rng.randint(1, fen - 1)
            with m.alliance.merchant(merchant) as till:
                r = till.post(f"/v1/payments/{sold[ref]}/refunds",
                              json={"refund_ref": "r1", "refund_fen": part})  # fmt: skip
            assert r.status_code == 202, r.text
        m.money_until(lambda: m.count(t.refunds, t.refunds.c.state != "succeeded") == 0, "refunds")

        # -- the day closes; its bills are ready at 10:00 the next morning -----------------------
        m.set_time(m.now().replace(hour=0, minute=30) + timedelta(days=1))
        m.jobs()
        m.money(passes=2)
        m.set_time(m.now().replace(hour=2, minute=5))
        report = tmp_path / "report.csv"
        result = jifen("reconcile", "--date", day_one.isoformat(), "--db", db_url,
                       "--provider", str(tmp_path / "sandbox" / "credentials.json"),
                       "--out", str(report), env=ENV)  # fmt: skip
        assert result.returncode == 1, result.stderr  # the payments made outside Jifen
        rows = _report(report)
        breaks = sorted((r["kind"], r["status"], r["provider_ref"])
                        for r in rows if r["status"] != "matched")  # fmt: skip
        assert breaks == sorted(("payment", "missing_ours", n) for n in strangers.values())
        kinds = Counter(row["kind"] for row in rows)
        assert kinds["payment"] == ORDERS + len(STRANGERS) and kinds["refund"] == REFUNDS
        assert kinds["split"] >= ORDERS and kinds["return"] >= REFUNDS

        # -- a week on, the points are available and spent at other merchants -----------------
        m.set_time(m.now().replace(hour=0, minute=30) + timedelta(days=8))
        m.jobs()
        spent = _redeem(m, members, home, rng)
        assert spent > 0
        m.set_time(m.now() + timedelta(days=1))
        m.jobs()  # the redemption day is settled: the merchants are owed their reimbursements
        m.money(passes=2)

        _books_agree_with_the_provider(m, spent)
        assert m.count(t.reconciliations) == 1
    check = jifen("verify", "--db", db_url, env=ENV)
    assert check.returncode == 0, check.stdout + check.stderr


def _report(path: Path) -> list[dict[str, str]]:
    """The report's records (its first table; the second sums them by kind), keyed by the
    English half of each bilingual header (``类型 kind``)."""
    lines = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    names = [h.split(" ")[-1] for h in lines[0]]
    records = []
    for row in lines[1:]:
        if row[0] == lines[0][0]:  # the header of the totals
            break
        records.append(dict(zip(names, row, strict=True)))
    return records


def books_of(orders: list[tuple[str, str, str, int]]) -> list[str]:
    return [ref for merchant, ref, _, _ in orders if merchant == "books"]


def _open(m: Money) -> int:
    """Split orders not finished: the courier's parts wait for shipment."""
    return m.count(t.split_orders, t.split_orders.c.state != "finished")


def _plans(m: Money) -> None:
    for merchant, receiver in RECEIVERS.items():
        account = m.open_account(f"{receiver}服务有限公司")
        m.receivers[receiver] = account
        with m.alliance.merchant(merchant) as client:
            body = {"name": receiver, "type": "MERCHANT_ID", "account": account,
                    "real_name": f"{receiver}服务有限公司"}  # fmt: skip
            r = client.post("/v1/split-receivers", json=body)
            assert r.status_code == 201, r.text
            r = client.post("/v1/split-plans", json={"parts": PLANS[merchant]})
            assert r.status_code == 201, r.text
    for account in m.accounts.values():
        m.top_up(account, FLOAT_FEN)


def _redeem(m: Money, members: list[str], home: dict[str, str], rng: random.Random) -> int:
    """Members spend at a merchant other than their usual one; returns the points accepted."""
    spent = 0
    for n, member in enumerate(rng.sample(members, REDEMPTIONS)):
        with m.alliance.member(member) as me:
            available = me.get("/v1/me").json()["available"]
        if available < 100:
            continue
        elsewhere = rng.choice([x for x in MERCHANTS if x != home[member]])
        points = rng.randint(100, min(available, 5_000))
        with m.alliance.merchant(elsewhere) as till:
            r = till.post("/v1/redemptions", json={"code": m.alliance.code(member),
                          "points": points, "order_ref": f"x{n:03d}",
                          "order_amount_fen": points * 3})  # fmt: skip
        assert r.status_code == 201, r.text
        spent += points
    return spent


def _books_agree_with_the_provider(m: Money, spent: int) -> None:
    """Per account at the provider: what Jifen's records say moved equals what the provider
    holds, to the fen."""
    balances = m.kit.balances()

    def held(account: str) -> int:
        """At the provider (its bank account, where a payout lands and a top-up comes from,
        aside)."""
        return sum(v for k, v in balances.items() if k.split(":")[0] == account) - bank(account)

    def bank(account: str) -> int:
        return balances.get(f"{account}:BANK", 0)

    with m.ctx.engine.connect() as conn:
        payments = conn.execute(select(t.payments)).all()
        lines = conn.execute(
            select(t.split_lines, t.split_orders.c.out_trade_no).join(
                t.split_orders, t.split_orders.c.out_order_no == t.split_lines.c.out_order_no
            )
        ).all()
        returns = conn.execute(select(t.split_returns)).all()
        refunds = conn.execute(select(t.refunds)).all()
        payouts = conn.execute(select(t.payouts)).all()
        statements = conn.execute(select(t.statements)).all()
    merchant_of = {p.out_trade_no: p.merchant_id for p in payments}
    trade_of_refund = {r.out_refund_no: r.out_trade_no for r in refunds}
    to_others: dict[str, int] = defaultdict(int)  # what each receiver got, net of returns
    by_merchant: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.result == "SUCCESS":
            to_others[line.account] += line.fen
            by_merchant[merchant_of[line.out_trade_no]] -= line.fen
        else:
            assert line.account == m.receivers["landlord"] and line.result == "CLOSED", line
    for back in returns:
        assert back.state == "succeeded", back
        to_others[back.account] -= back.fen
        by_merchant[merchant_of[trade_of_refund[back.out_refund_no]]] += back.fen
    for p in payments:
        by_merchant[p.merchant_id] += p.amount_fen - fee_of(p.amount_fen, 60)
    for r in refunds:
        by_merchant[merchant_of[r.out_trade_no]] -= r.customer_fen
    paid_out: dict[str, int] = defaultdict(int)
    for p in payouts:
        assert p.state == "succeeded", p
        paid_out[p.merchant_id] += p.fen
    for merchant, account in m.accounts.items():
        outside = STRANGERS.get(merchant, 0)
        expected = FLOAT_FEN + by_merchant[merchant] + outside - fee_of(outside, 60)
        assert held(account) == expected, merchant
        assert bank(account) == paid_out[merchant] - FLOAT_FEN, merchant
    reserve = reserve_status(m.ctx)
    assert held(RESERVE) == to_others[RESERVE] - sum(paid_out.values()) == reserve.reserve_fen
    assert held(OPERATOR) == to_others[OPERATOR] > 0
    for receiver, account in m.receivers.items():
        assert held(account) == to_others[account], receiver
    assert held(m.receivers["landlord"]) == 0 and held(m.receivers["courier"]) > 0
    assert sum(s.collected_fen for s in statements) == to_others[RESERVE] + to_others[OPERATOR] + \
        sum(s.returned_fen for s in statements)  # fmt: skip
    assert sum(paid_out.values()) == sum(s.reimbursements_fen for s in statements) > 0
    assert sum(s.points_accepted for s in statements) == spent
    assert held(SP) == 0
