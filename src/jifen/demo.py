"""The demo alliance: five merchants of different trades, members, and months of daily life.

It runs the real flows on a simulated clock: the operator publishes rules (and later announces a
change with notice; a change that would cut the rights of issued points is refused), merchants
record paid orders, the return window ends and points are released, members redeem at *other*
merchants with one-time codes, some orders are refunded, lots expire, and every business day is
closed with statements per merchant and a reserve check. Everything random comes from one seeded
generator and every key derives from the seed, so the same seed gives the same books, hash for hash.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jifen.alliance.members import enrol
from jifen.alliance.merchants import Merchant, MerchantStatus, Store, create_merchant
from jifen.alliance.orders import record_order, refund_order
from jifen.alliance.redemptions import new_code, redeem
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.errors import JifenError
from jifen.jobs import run_jobs
from jifen.ledger import Report
from jifen.rules import RuleDocument
from jifen.settlement import ReserveStatus, reserve_status, verify_books
from jifen.store import sqlite_path

DEMO_SECRET = "jifen-demo-secret-not-for-production"
MERCHANTS = (
    ("cafe", "cafe", "咖啡馆 café"),
    ("cinema", "cinema", "影院 cinema"),
    ("market", "supermarket", "超市 supermarket"),
    ("fuel", "fuel", "加油站 fuel station"),
    ("books", "books", "书店 bookshop"),
)
START = datetime(2026, 1, 1, tzinfo=UTC)
RULES_V1 = RuleDocument.model_validate(
    {
        "alliance": "demo",
        "title_zh": "演示联盟积分规则",
        "title_en": "Demo alliance points rules",
        "notice_days": 30,
        "earn": {"points_per_yuan": 1, "category_multipliers_bp": {"cinema": 20_000}},
        "pending": {"return_window_days": 7},
        "expiry": {"policy": "rolling", "months": 2},
        "redemption": {"min_points": 100, "max_order_share_bp": 5_000},
    }
)


def rules_v2() -> RuleDocument:
    """Announced on day 30: a bookshop campaign and a longer expiry (more rights, with notice)."""
    doc = RULES_V1.model_dump(mode="json")
    doc["earn"]["merchant_multipliers_bp"] = {"books": 30_000}
    doc["expiry"]["months"] = 3
    return RuleDocument.model_validate(doc)


def rules_cut() -> RuleDocument:
    """What the linter and the rights gate exist for: shorter expiry for points already issued."""
    doc = rules_v2().model_dump(mode="json")
    doc["expiry"]["months"] = 1
    return RuleDocument.model_validate(doc)


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


def open_demo(db: str, *, hash_alg: str = "sha256") -> Context:
    """A demo store with the demo's fixed secret, also written beside a SQLite file so that
    ``jifen serve`` on the same file can read the (fake) members' phone numbers. The store runs
    on a simulated clock for life: ``jifen serve`` and ``jifen jobs run`` on it later resume at
    the time the demo ended, never the real one."""
    if (store_file := sqlite_path(db)) is not None:
        Path(f"{store_file}.secret").write_text(DEMO_SECRET)
    return open_alliance(db, secret=DEMO_SECRET, clock=SimulatedClock(START), hash_alg=hash_alg)


def run_demo(
    ctx: Context,
    *,
    members: int = 200,
    orders: int = 2000,
    days: int = 120,
    seed: int = 7,
    on_day: Callable[[int], None] | None = None,
) -> Summary:
    assert isinstance(ctx.clock, SimulatedClock)
    summary = Summary(seed, members, len(MERCHANTS), orders, days)
    run = _Run(ctx, ctx.clock, random.Random(seed), summary)
    run.open_alliance(members)
    order_days = sorted(run.rng.randrange(days) for _ in range(orders))
    next_order = 0
    for day in range(days):
        today = START + timedelta(days=day)
        if day == 30:
            _announce_change(ctx, summary, today)
        next_order = run.orders(day, today, order_days, next_order)
        run.clock.set(today + timedelta(hours=13, minutes=30))
        run.refunds(day)
        run.clock.set(today + timedelta(hours=14))
        run.redemptions(day)
        run.clock.set(today + timedelta(days=1, hours=1))
        run.close_days()
        if on_day:
            on_day(day)
    summary.net_fen_by_merchant = dict(sorted(run.net.items()))
    summary.rule_versions = len(ctx.rulebook.published())
    summary.reserve = reserve_status(ctx)
    summary.report = verify_books(ctx.engine)
    return summary


@dataclass
class _Run:
    """One demo run's state; each method is one part of a simulated business day, drawing from
    the one seeded generator in a fixed order (same seed, same books)."""

    ctx: Context
    clock: SimulatedClock
    rng: random.Random
    summary: Summary
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
        v1 = ctx.rulebook.draft(RULES_V1, self.clock.now())
        ctx.rulebook.publish(
            v1.number, effective_at=START, reason="联盟开业 launch", now=START,
            points_outstanding=False,
        )  # fmt: skip
        for merchant_id, trade, name in MERCHANTS:
            merchant = Merchant(
                merchant_id=merchant_id,
                name=name,
                category=trade,
                status=MerchantStatus.ACTIVE,
                kyc={"legal_name": f"演示{name}有限公司", "licence_no": "91310000MA1FL00000"},
                stores=(Store(f"{merchant_id}-01", name, "上海"),),
            )
            create_merchant(ctx, merchant, START)
        consents = {"terms": True, "privacy": True}
        self.member_ids = [
            enrol(ctx, f"138{n:08d}", consents, START).member_id for n in range(members)
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
            self.clock.set(paid_at)
            order = record_order(
                self.ctx, merchant, order_ref=f"o{n:06d}", member_id=member,
                amount_fen=amount_fen, paid_at=paid_at,
            )  # fmt: skip
            self.summary.earned_points += order.points
            self.placed.append((merchant, order.order_ref, amount_fen, day))
        return next_order

    def refunds(self, day: int) -> None:
        """Some orders are refunded, in part or in full, within 20 days."""
        for merchant, ref, amount_fen, paid_day in self.placed[-300:]:
            if ref in self.refunded or day - paid_day > 20 or self.rng.random() > 0.004:
                continue
            self.refunded.add(ref)
            part = amount_fen if self.rng.random() < 0.4 else self.rng.randint(1, amount_fen - 1)
            result = refund_order(self.ctx, merchant, ref, refund_ref="r1", refund_fen=part)
            self.summary.refunds += 1
            self.summary.shortfall_points += result.shortfall_points

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
                    self.ctx, merchant, code=code, points=points, order_ref=f"r{day}-{member}",
                    order_amount_fen=points * 2 + self.rng.randint(0, 20_000),
                )  # fmt: skip
            except JifenError:
                continue  # e.g. over the rule's share of the order: the cashier tries less
            self.summary.redemptions += 1

    def close_days(self) -> None:
        """The business day closes: releases, expiries, reminders, statements, reserve check."""
        for closed in run_jobs(self.ctx):
            self.summary.closed_days += 1
            self.summary.statements += len(closed.statements)
            for s in closed.statements:
                self.summary.charges_fen += s.charges_fen
                self.summary.reimbursements_fen += s.reimbursements_fen
                self.net[s.merchant_id] += s.net_fen


def _announce_change(ctx: Context, summary: Summary, today: datetime) -> None:
    """Day 30: a rights-cutting draft is refused; a fair change is published with notice."""
    cut = ctx.rulebook.draft(rules_cut(), today)
    try:
        ctx.rulebook.publish(
            cut.number,
            effective_at=today + timedelta(days=30),
            reason="缩短有效期 shorter expiry",
            now=today,
            points_outstanding=True,
        )
    except JifenError as exc:
        summary.refused_change = exc.code
    v2 = ctx.rulebook.draft(rules_v2(), today)
    ctx.rulebook.publish(
        v2.number,
        effective_at=today + timedelta(days=30),
        reason="书店三倍积分，有效期延长至 3 个月 / books 3×, expiry 3 months",
        now=today,
        points_outstanding=True,
    )
