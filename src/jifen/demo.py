"""The demo alliance: a few merchants of different trades, members, and months of daily life.

It drives the real ledger through a simulated clock: paid orders earn pending points, the return
window ends and points are released, members redeem at *other* merchants, some orders are partly
refunded, and old lots expire. Everything random comes from one seeded generator, and every key
is derived from the seed, so the same seed gives the same books, hash for hash.

Until versioned rules exist (issue 3) the demo uses the fixed ``DEMO_TERMS`` below.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jifen.ledger import (
    MAX_BATCH,
    Earn,
    Expire,
    Ledger,
    Operation,
    Redeem,
    Refund,
    Release,
    Report,
    verify,
)


@dataclass(frozen=True)
class Terms:
    """The earn terms the demo applies (a stand-in for a published rule version)."""

    rule_version: int = 1
    points_per_yuan: int = 1  # points round down (brief §6)
    return_window_days: int = 7
    expiry_days: int = 90  # rolling: N days after release
    value_points_per_yuan: int = 100  # 100 points = ¥1, fixed (brief §4)


DEMO_TERMS = Terms()
MERCHANTS = (
    ("cafe", "咖啡馆 café"),
    ("cinema", "影院 cinema"),
    ("market", "超市 supermarket"),
    ("fuel", "加油站 fuel station"),
    ("books", "书店 bookshop"),
)
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Summary:
    seed: int
    members: int
    merchants: int
    orders: int
    days: int
    earned_points: int = 0
    releases: int = 0
    redemptions: int = 0
    redeemed_points: int = 0
    refunds: int = 0
    clawed_back_points: int = 0
    shortfall_points: int = 0
    expiries: int = 0
    expired_points: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    report: Report | None = None


def points_for(amount_fen: int, terms: Terms) -> int:
    """Points for a paid amount: whole yuan × rate, rounded down."""
    return amount_fen // 100 * terms.points_per_yuan


def _batches(ops: Sequence[Operation]) -> Iterator[Sequence[Operation]]:
    for start in range(0, len(ops), MAX_BATCH):
        yield ops[start : start + MAX_BATCH]


def run_demo(
    ledger: Ledger,
    *,
    members: int = 200,
    orders: int = 2000,
    days: int = 120,
    seed: int = 7,
    terms: Terms = DEMO_TERMS,
    on_day: Callable[[int], None] | None = None,
) -> Summary:
    rng = random.Random(seed)
    summary = Summary(seed, members, len(MERCHANTS), orders, days)
    for merchant_id, _ in MERCHANTS:
        ledger.open_merchant(merchant_id, START)
    member_ids = [f"u{n:05d}" for n in range(members)]
    merchant_ids = [m for m, _ in MERCHANTS]
    order_days = sorted(rng.randrange(days) for _ in range(orders))
    lots: list[tuple[str, int, str, int]] = []  # (lot_id, amount_fen, member_id, day)
    refunded: set[str] = set()
    favourite = {m: rng.choice(merchant_ids) for m in member_ids}
    next_order = 0
    for day in range(days):
        today = START + timedelta(days=day)
        end_of_day = today + timedelta(hours=23)
        # 1. paid orders earn pending points
        earns: list[Operation] = []
        while next_order < orders and order_days[next_order] == day:
            member = rng.choice(member_ids)
            merchant = favourite[member] if rng.random() < 0.7 else rng.choice(merchant_ids)
            amount_fen = rng.randint(800, 60_000)
            paid_at = today + timedelta(hours=8, seconds=rng.randrange(12 * 3600))
            release_at = paid_at + timedelta(days=terms.return_window_days)
            earns.append(
                Earn(
                    key=f"demo-{seed}:earn:{next_order}",
                    member_id=member,
                    merchant_id=merchant,
                    order_ref=f"o{next_order:06d}",
                    amount_fen=amount_fen,
                    points=max(1, points_for(amount_fen, terms)),
                    rule_version=terms.rule_version,
                    paid_at=paid_at,
                    release_at=release_at,
                    expires_at=release_at + timedelta(days=terms.expiry_days),
                )
            )
            next_order += 1
        for batch in _batches(earns):
            for op, receipt in zip(batch, ledger.submit_batch(batch, end_of_day), strict=True):
                assert isinstance(op, Earn)
                lots.append((receipt.entry_id, op.amount_fen, op.member_id, day))
                summary.earned_points += op.points
        # 2. some orders are refunded, in part or in full, within 20 days
        refunds: list[Operation] = []
        for lot_id, amount_fen, _member, paid_day in lots[-300:]:
            if lot_id in refunded or day - paid_day > 20 or rng.random() > 0.004:
                continue
            refunded.add(lot_id)
            part = amount_fen if rng.random() < 0.4 else rng.randint(1, amount_fen - 1)
            refunds.append(Refund(f"demo-{seed}:refund:{lot_id}", lot_id, part))
        for op in refunds:
            receipt = ledger.submit(op, end_of_day)
            summary.refunds += 1
            summary.clawed_back_points += int(receipt.detail["clawback_points"])
            summary.shortfall_points += int(receipt.detail["shortfall_points"])
        # 3. the return window ends: release what is due
        summary.releases += _run_job(
            ledger, end_of_day, ledger.due_releases, lambda lot: Release(f"release:{lot}", lot)
        )
        # 4. members spend at a merchant other than their usual one
        for member in rng.sample(member_ids, k=max(1, members // 20)):
            available = ledger.balance(member).available
            if available < 100:
                continue
            merchant = rng.choice([m for m in merchant_ids if m != favourite[member]])
            points = rng.randint(100, available)
            op = Redeem(f"demo-{seed}:redeem:{day}:{member}", member, merchant, points, f"r{day}")
            ledger.submit(op, end_of_day)
            summary.redemptions += 1
            summary.redeemed_points += points
        # 5. what reached its expiry is burnt
        summary.expiries += _run_job(
            ledger, end_of_day, ledger.due_expiries, lambda lot: Expire(f"expire:{lot}", lot)
        )
        if on_day:
            on_day(day)
    summary.report = verify(ledger.engine)
    summary.expired_points = summary.report.totals.get("expired", 0)
    return summary


def _run_job(
    ledger: Ledger,
    now: datetime,
    due: Callable[[datetime, int], list[str]],
    make: Callable[[str], Operation],
) -> int:
    """Drain a job (releases or expiries) in batches; bounded by what is due."""
    done = 0
    while lots := due(now, MAX_BATCH):
        ledger.submit_batch([make(lot) for lot in lots], now)
        done += len(lots)
    return done
