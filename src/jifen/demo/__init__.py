"""The demo alliance: five merchants of different trades, members, and months of daily life.

It runs the real flows on a simulated clock: the operator publishes rules (and later announces a
change with notice; a change that would cut the rights of issued points is refused), merchants
record paid orders, the return window ends and points are released, members redeem at *other*
merchants with one-time codes, some orders are refunded, lots expire, and every business day is
closed with statements per merchant and a reserve check. Everything random comes from one seeded
generator and every key derives from the seed, so the same seed gives the same books, hash for hash
(on the same day: the days the demo simulates are the ones before today).

With a ``Payer`` (``jifen demo`` starts the sandbox provider for it), the orders are paid through
the provider as real ones are: a payment is created, the customer pays, the provider's
notification records the order; the issue charge is split to the reserve and the fee, refunds
return the splits before paying back, the reserve pays the merchants' nets, and every day is
reconciled against the provider's bills the next evening.

**The demo ends today** (``jifen.demo._timeline``): its simulated days are the days before
today, and its store is then handed over to the real clock, so ``jifen serve`` on it carries on.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from jifen.alliance.members import enrol
from jifen.alliance.merchants import Merchant, MerchantStatus, Store, create_merchant
from jifen.alliance.orders import get_order, record_order, refund_order
from jifen.alliance.redemptions import new_code, redeem
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.demo._rules import RULES_V1, announce_change, rules_v2
from jifen.demo._timeline import Timeline, hand_over, timeline
from jifen.errors import JifenError
from jifen.funds import (
    Funds,
    create_payment,
    get_payment,
    link_merchant,
    out_trade_no_for,
    payouts,
    request_refund,
    run_money,
)
from jifen.funds.reconciliation import reconcile_day
from jifen.jobs import run_jobs
from jifen.ledger import Report
from jifen.payments import ReconciliationStatus
from jifen.settlement import ReserveStatus, reserve_status, verify_books
from jifen.store import sqlite_path

__all__ = [
    "DEMO_SECRET",
    "MERCHANTS",
    "RULES_V1",
    "Payer",
    "Summary",
    "Timeline",
    "open_demo",
    "rules_v2",
    "run_demo",
    "timeline",
]

DEMO_SECRET = "jifen-demo-secret-not-for-production"
MERCHANTS = (
    ("cafe", "cafe", "咖啡馆 café"),
    ("cinema", "cinema", "影院 cinema"),
    ("market", "supermarket", "超市 supermarket"),
    ("fuel", "fuel", "加油站 fuel station"),
    ("books", "books", "书店 bookshop"),
)


class Payer(Protocol):
    """The provider's side of the demo: its clock follows the demo's; customers pay there."""

    funds: Funds

    def set_time(self, when: datetime) -> None: ...
    def pay(self, out_trade_no: str) -> None: ...
    def open_account(self, name: str) -> str: ...
    def top_up(self, account: str, fen: int) -> None: ...


PAID_WAIT_S = 15.0
"""How long the demo waits for the provider's notification of one payment (loopback: ms)."""
MERCHANT_FLOAT_FEN = 1_000_000
"""What each demo merchant keeps on its provider account (¥10,000) to pay refunds from."""


@dataclass
class Summary:
    seed: int
    members: int
    merchants: int
    orders: int
    days: int
    earned_points: int = 0
    redemptions: int = 0
    refunds: int = 0
    shortfall_points: int = 0
    rule_versions: int = 0
    refused_change: str = ""
    closed_days: int = 0
    statements: int = 0
    net_fen_by_merchant: dict[str, int] = field(default_factory=dict)
    charges_fen: int = 0
    reimbursements_fen: int = 0
    reserve: ReserveStatus | None = None
    report: Report | None = None
    provider: str = ""  # "" : orders recorded as paid in cash, no provider
    collected_fen: int = 0  # issue charges collected by split
    returned_fen: int = 0  # value returned by split return before refunds
    paid_out_fen: int = 0  # nets paid from the reserve by the provider
    reconciled_days: int = 0
    reconciled_records: int = 0
    reconciliation_breaks: int = 0


def open_demo(db: str, when: Timeline, *, hash_alg: str = "sha256") -> Context:
    """A demo store with the demo's fixed secret, also written beside a SQLite file so that
    ``jifen serve`` on the same file can read the (fake) members' phone numbers. The store runs
    on a simulated clock from ``when.start`` until ``run_demo`` hands it over to the real one."""
    if (store_file := sqlite_path(db)) is not None:
        Path(f"{store_file}.secret").write_text(DEMO_SECRET)
    clock = SimulatedClock(when.start)
    return open_alliance(db, secret=DEMO_SECRET, clock=clock, hash_alg=hash_alg)


def run_demo(
    ctx: Context,
    when: Timeline,
    *,
    members: int = 200,
    orders: int = 2000,
    seed: int = 7,
    on_day: Callable[[int], None] | None = None,
    payer: Payer | None = None,
    real_now: Callable[[], datetime] | None = None,
) -> Summary:
    """Run the demo on the store of ``open_demo(db, when)``. With ``real_now`` (the real clock),
    the store is handed over to the real clock at the end; ``ctx`` must not write after that."""
    assert isinstance(ctx.clock, SimulatedClock)
    days, start = when.days, when.start
    summary = Summary(seed, members, len(MERCHANTS), orders, days)
    run = _Run(ctx, ctx.clock, start, random.Random(seed), summary, payer)
    run.open_alliance(members)
    order_days = sorted(run.rng.randrange(days) for _ in range(orders))
    next_order = 0
    for day in range(days):
        today = start + timedelta(days=day)
        if day == 30:
            summary.refused_change = announce_change(ctx, today)
        next_order = run.orders(day, today, order_days, next_order)
        run.set_time(today + timedelta(hours=13, minutes=30))
        run.refunds(day)
        run.set_time(today + timedelta(hours=14))
        run.redemptions(day)
        if day:
            run.reconcile(today + timedelta(hours=14, minutes=30), (today - timedelta(days=1)))
        run.set_time(today + timedelta(days=1, minutes=30))  # 08:30 China time
        run.close_days()
        if on_day:
            on_day(day)
    run.reconcile(when.last_reconciliation, start + timedelta(days=days - 1))
    if when.quiet_close is not None:
        run.set_time(when.quiet_close)
        run.close_days(pay=False)  # the provider's payouts of a quiet day: none
    summary.net_fen_by_merchant = dict(sorted(run.net.items()))
    summary.rule_versions = len(ctx.rulebook.published())
    summary.reserve = reserve_status(ctx)
    summary.report = verify_books(ctx.engine)
    if payer is not None:
        summary.provider = payer.funds.provider.name
        summary.paid_out_fen = sum(p.fen for p in payouts(ctx) if p.state == "succeeded")
    if real_now is not None:
        hand_over(ctx, real_now)
    return summary


@dataclass
class _Run:
    """One demo run's state; each method is one part of a simulated business day, drawing from
    the one seeded generator in a fixed order (same seed, same books)."""

    ctx: Context
    clock: SimulatedClock
    start: datetime
    rng: random.Random
    summary: Summary
    payer: Payer | None = None
    member_ids: list[str] = field(default_factory=list)
    merchant_ids: list[str] = field(default_factory=lambda: [m for m, _, _ in MERCHANTS])
    favourite: dict[str, str] = field(default_factory=dict)
    placed: list[tuple[str, str, int, int]] = field(default_factory=list)  # merchant, ref, fen, day
    refunded: set[str] = field(default_factory=set)
    net: dict[str, int] = field(
        default_factory=lambda: defaultdict(int)
    )  # settled net per merchant

    def open_alliance(self, members: int) -> None:
        """Rules v1 at once, the merchants onboarded, the members enrolled."""
        ctx = self.ctx
        start = self.start
        v1 = ctx.rulebook.draft(RULES_V1, self.clock.now())
        ctx.rulebook.publish(
            v1.number,
            effective_at=start,
            reason="联盟开业 launch",
            now=start,
            points_outstanding=False,
        )
        for merchant_id, trade, name in MERCHANTS:
            merchant = Merchant(
                merchant_id=merchant_id,
                name=name,
                category=trade,
                status=MerchantStatus.ACTIVE,
                kyc={"legal_name": f"演示{name}有限公司", "licence_no": "91310000MA1FL00000"},
                stores=(Store(f"{merchant_id}-01", name, "上海"),),
            )
            create_merchant(ctx, merchant, start)
            if self.payer is not None:  # its account at the provider, with a float for refunds
                account = self.payer.open_account(f"演示{name}有限公司")
                link_merchant(ctx, self.payer.funds, merchant_id, account=account)
                self.payer.top_up(account, MERCHANT_FLOAT_FEN)
        consents = {"terms": True, "privacy": True}
        self.member_ids = [
            enrol(ctx, f"138{n:08d}", consents, start).member_id for n in range(members)
        ]
        self.favourite = {m: self.rng.choice(self.merchant_ids) for m in self.member_ids}

    def orders(self, day: int, today: datetime, order_days: list[int], next_order: int) -> int:
        """Paid orders earn pending points, at their payment times; returns the next order."""
        paid = []
        while next_order < len(order_days) and order_days[next_order] == day:
            paid.append(today + timedelta(hours=1, seconds=self.rng.randrange(12 * 3600)))
            next_order += 1
        for n, paid_at in enumerate(sorted(paid), start=next_order - len(paid)):
            member = self.rng.choice(self.member_ids)
            usual = self.rng.random() < 0.7
            merchant = self.favourite[member] if usual else self.rng.choice(self.merchant_ids)
            amount_fen = self.rng.randint(800, 60_000)
            self.set_time(paid_at)
            self.summary.earned_points += self._paid(merchant, f"o{n:06d}", member, amount_fen)
            self.placed.append((merchant, f"o{n:06d}", amount_fen, day))
        if paid:  # a minute after the last payment every split of the day is due
            self.money(max(paid) + timedelta(seconds=65), passes=2)
        return next_order

    def _paid(self, merchant: str, ref: str, member: str, amount_fen: int) -> int:
        """One paid order: in cash, recorded by the merchant; or through the provider, recorded
        when its notification arrives. Returns the points it earned."""
        paid_at = self.clock.now()
        if self.payer is None:
            order = record_order(
                self.ctx,
                merchant,
                order_ref=ref,
                member_id=member,
                amount_fen=amount_fen,
                paid_at=paid_at,
            )
            return order.points
        payment = create_payment(
            self.ctx,
            self.payer.funds,
            merchant,
            order_ref=ref,
            member_id=member,
            amount_fen=amount_fen,
            description="演示消费 demo purchase",
        )
        self.payer.pay(payment.out_trade_no)
        deadline = time.monotonic() + PAID_WAIT_S
        while get_payment(self.ctx, payment.out_trade_no).state != "paid":
            if time.monotonic() > deadline:
                raise RuntimeError("the provider's notification did not arrive")
            time.sleep(0.003)
        try:
            return get_order(self.ctx, merchant, ref).points
        except JifenError:  # below the minimum spend: paid, no points
            return 0

    def set_time(self, when: datetime) -> None:
        self.clock.set(when)
        if self.payer is not None:
            self.payer.set_time(when)

    def money(self, start: datetime, *, passes: int) -> None:
        """``passes`` passes of the money path, a minute apart from ``start`` (the provider
        resolves splits, returns, refunds and payouts a minute after it takes them)."""
        if self.payer is None:
            return
        for n in range(passes):
            self.set_time(start + timedelta(seconds=65 * n))
            run_money(self.ctx, self.payer.funds)

    def reconcile(self, at: datetime, day: datetime) -> None:
        """The provider's bills of ``day`` against Jifen's records, the next evening."""
        if self.payer is None:
            return
        self.set_time(at)
        report, _ = reconcile_day(self.ctx, self.payer.funds, day.date())
        self.summary.reconciled_days += 1
        self.summary.reconciled_records += len(report.items)
        self.summary.reconciliation_breaks += sum(
            1 for i in report.items if i.status is not ReconciliationStatus.MATCHED
        )

    def refunds(self, day: int) -> None:
        """Some orders are refunded, in part or in full, within 20 days."""
        for merchant, ref, amount_fen, paid_day in self.placed[-300:]:
            if ref in self.refunded or day - paid_day > 20 or self.rng.random() > 0.004:
                continue
            self.refunded.add(ref)
            part = amount_fen if self.rng.random() < 0.4 else self.rng.randint(1, amount_fen - 1)
            self.summary.refunds += 1
            if self.payer is None:
                result = refund_order(self.ctx, merchant, ref, refund_ref="r1", refund_fen=part)
                self.summary.shortfall_points += result.shortfall_points
                continue
            paid = out_trade_no_for(merchant, ref)
            refund = request_refund(self.ctx, merchant, paid, refund_ref="r1", refund_fen=part)
            self.summary.shortfall_points += refund.refund_fen - refund.customer_fen  # 1 fen each
        self.money(self.clock.now(), passes=5)  # returns, then the refunds themselves

    def redemptions(self, day: int) -> None:
        """Members spend at a merchant other than their usual one, with a one-time code."""
        sample = max(1, self.summary.members // 20)
        for member in self.rng.sample(self.member_ids, k=sample):
            available = self.ctx.ledger.balance(member).available
            if available < 100:
                continue
            merchant = self.rng.choice(
                [m for m in self.merchant_ids if m != self.favourite[member]]
            )
            points = self.rng.randint(100, available)
            code, _ = new_code(self.ctx, member, self.clock.now(), rng=self.rng)
            try:
                redeem(
                    self.ctx,
                    merchant,
                    code=code,
                    points=points,
                    order_ref=f"r{day}-{member}",
                    order_amount_fen=points * 2 + self.rng.randint(0, 20_000),
                )
            except JifenError:
                continue  # e.g. over the rule's share of the order: the cashier tries less
            self.summary.redemptions += 1

    def close_days(self, *, pay: bool = True) -> None:
        """The business day closes: releases, expiries, reminders, statements, reserve check;
        then (``pay``) the provider pays what merchants are owed."""
        for closed in run_jobs(self.ctx):
            self.summary.closed_days += 1
            self.summary.statements += len(closed.statements)
            for s in closed.statements:
                self.summary.charges_fen += s.charges_fen
                self.summary.reimbursements_fen += s.reimbursements_fen
                self.summary.collected_fen += s.collected_fen
                self.summary.returned_fen += s.returned_fen
                self.net[s.merchant_id] += s.net_fen
        if pay:
            self.money(self.clock.now() + timedelta(seconds=65), passes=2)  # the payouts
