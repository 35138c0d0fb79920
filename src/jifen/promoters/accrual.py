"""Referral rewards, from a referred order to money owed (brief §8, docs/referrals.md).

Two idempotent passes, both run by the daily jobs (``jifen.jobs.run_jobs``: ``POST
/v1/jobs/run``, ``jifen jobs run``, the scheduler):

- ``track_orders`` reads the orders the ledger recorded since its last pass (a cursor over the
  journal's lanes in the ``settings`` row ``referral.orders``, see ``queries.earns_after``) and
  records one ``pending`` reward per share the order carries (``jifen.referral.order_shares``,
  under the rule version the order earned under, which was in force when it was paid). A pass
  reads at most ``limit`` orders per transaction and goes on until it is caught up.
- ``accrue_due`` settles every pending reward whose order's return window has ended
  (``due_at`` = the order's ``release_at``, the instant its points are released): the basis is
  what is left of the order (paid − refunded; nothing if it was cancelled or its earn reversed);
  the reward is the share of it rounded down, then the promoter's monthly cap (the Asia/Shanghai
  month of ``due_at``). A reward above zero is **accrued**: one ledger ``post`` moves it from
  the operator's revenue (``system:revenue``) to what is owed to promoters
  (``system:referral_payable``), keyed ``referral-accrual:<reward_id>``, in the same unit of work
  as the row's new state; its memo names the order, the promoter, the kind and the funding, so
  the journal alone shows where every fen came from. Never the points reserve. Otherwise it is
  **reversed** (refunded or cancelled inside the window, or the cap took it all: ``capped_fen``).

**The window is the whole point.** The return window ends for a reward when it ends for the
order's points: the jobs release the points first, then accrue (same run). A refund after that
does not claw back an accrued reward — the promoter was owed it when the window closed, as the
member's points were released — so the reward states are final: pending → accrued | reversed.

Nothing here converts points to money: a reward's basis is the order's cash amount, and
``tests/test_no_points_to_money.py`` walks every path to show it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, encode_cursor, older_than
from jifen.errors import InvalidRequest
from jifen.ledger import MAX_BATCH, Asset, Leg, Lot, LotStatus, Post, queries
from jifen.ledger.model import REFERRAL_PAYABLE, REVENUE
from jifen.promoters.config import month_of
from jifen.referral import Share, capped, order_shares, reward_fen
from jifen.rules import ReferralRules
from jifen.rules.errors import RuleVersionNotFound
from jifen.store import insert_missing
from jifen.store import tables as t

__all__ = [
    "CURSOR",
    "STATES",
    "AccrualResult",
    "Reward",
    "accrual_key",
    "accrue_due",
    "list_rewards",
    "track_orders",
]

CURSOR = "referral.orders"
STATES = ("pending", "accrued", "reversed")
KINDS = ("direct", "indirect", "recruiter")
FUNDED_BY = "operator_revenue"


@dataclass(frozen=True)
class Reward:
    """One promoter's share of one referred order (``referral_rewards``). While pending,
    ``basis_fen`` and ``fen`` are figured on the whole order (what it would earn if nothing is
    refunded); once settled they are final."""

    reward_id: str
    promoter_id: str
    kind: str
    member_id: str
    merchant_id: str
    order_ref: str
    earn_entry_id: str
    rule_version: int
    share_bp: int
    order_fen: int
    basis_fen: int
    fen: int
    capped_fen: int
    funded_by: str
    state: str
    paid_at: datetime
    due_at: datetime
    created_at: datetime
    settled_at: datetime | None
    month: str | None
    entry_id: str | None
    batch_id: str | None


@dataclass(frozen=True)
class AccrualResult:
    accrued: int = 0
    reversed: int = 0
    accrued_fen: int = 0


def accrual_key(reward_id: str) -> str:
    """The idempotency key of a reward's ledger entry: it accrues once, whatever re-runs."""
    return f"referral-accrual:{reward_id}"


# -- tracking orders -------------------------------------------------------------------------------


def _read_cursor(tx: Connection) -> dict[int, tuple[int, int]]:
    insert_missing(tx, t.settings, [{"name": CURSOR, "value": "{}"}])
    value = tx.execute(
        select(t.settings.c.value).where(t.settings.c.name == CURSOR).with_for_update()
    ).scalar_one()
    return {int(lane): (int(h), int(s)) for lane, (h, s) in json.loads(value).items()}


def _referrers(tx: Connection, member_id: str, depth: int, paid_at: datetime) -> list[str]:
    """The buyer's referrers upward, nearest first, as bound when the order was paid: a link
    bound after the payment earns nothing on it."""
    c = t.referral_links.c
    found: list[str] = []
    at = member_id
    while len(found) < depth:
        row = tx.execute(select(c.promoter_id, c.bound_at).where(c.member_id == at)).first()
        if row is None or row.bound_at > paid_at or row.promoter_id in (member_id, *found):
            break
        found.append(row.promoter_id)
        at = row.promoter_id
    return found


def _terms(ctx: Context, tx: Connection, number: int) -> ReferralRules:
    """The referral terms of a rule version; none for an order the ledger took without a
    published version behind it (a ledger written directly, as tools and tests do)."""
    try:
        return ctx.rulebook.get(number, conn=tx).document.referral
    except RuleVersionNotFound:
        return ReferralRules()


def _reward_rows(ctx: Context, tx: Connection, lot: Lot, now: datetime) -> list[dict[str, Any]]:
    terms = _terms(ctx, tx, lot.rule_version)
    if not (terms.direct_bp or terms.indirect_bp or terms.recruiter_bp):
        return []
    c = t.merchant_recruiters.c
    recruited = tx.execute(
        select(c.promoter_id, c.bound_at).where(c.merchant_id == lot.merchant_id)
    ).first()
    shares: list[Share] = order_shares(
        terms,
        buyer_id=lot.member_id,
        referrers=_referrers(tx, lot.member_id, terms.depth, lot.paid_at),
        recruiter=(recruited.promoter_id, recruited.bound_at) if recruited else None,
        paid_at=lot.paid_at,
    )
    m = t.members.c
    live = set(
        tx.execute(
            select(m.member_id).where(
                m.member_id.in_({s.promoter_id for s in shares}), m.erased_at.is_(None)
            )
        ).scalars()
    ) if shares else set()  # fmt: skip
    return [
        {
            "reward_id": f"{lot.lot_id}:{share.kind}",
            "promoter_id": share.promoter_id,
            "kind": share.kind,
            "member_id": lot.member_id,
            "merchant_id": lot.merchant_id,
            "order_ref": lot.order_ref,
            "earn_entry_id": lot.lot_id,
            "rule_version": lot.rule_version,
            "share_bp": share.share_bp,
            "order_fen": lot.amount_fen,
            "basis_fen": lot.amount_fen,
            "fen": reward_fen(lot.amount_fen, share.share_bp),
            "capped_fen": 0,
            "funded_by": terms.funded_by,
            "state": "pending",
            "paid_at": lot.paid_at,
            "due_at": lot.release_at,
            "created_at": now,
        }
        for share in shares
        if share.promoter_id in live  # an erased member promotes nobody: that share is dropped
    ]


def track_orders(ctx: Context, now: datetime | None = None, *, limit: int = MAX_BATCH) -> int:
    """Record the pending rewards of every order recorded since the last pass; the number of
    rewards recorded. One transaction per ``limit`` orders, each moving the cursor with what it
    wrote, so a pass interrupted half-way is finished by the next one, never doubled."""
    now = now or ctx.clock.now()

    def page(tx: Connection) -> tuple[int, bool]:
        lots, read = queries.earns_after(tx, _read_cursor(tx), limit)
        rows = [row for lot in lots for row in _reward_rows(ctx, tx, lot, now)]
        insert_missing(tx, t.referral_rewards, rows)
        tx.execute(
            update(t.settings)
            .where(t.settings.c.name == CURSOR)
            .values(value=json.dumps({str(k): list(v) for k, v in sorted(read.items())}))
        )
        return len(rows), len(lots) == limit

    recorded, more = ctx.atomic(None, page)
    while more:
        count, more = ctx.atomic(None, page)
        recorded += count
    return recorded


# -- accruing --------------------------------------------------------------------------------------


def _basis_fen(lot: Lot | None) -> int:
    """What is left of the order at the end of its window: nothing if it was cancelled, fully
    refunded before release, or its earn reversed; else paid − refunded."""
    if lot is None or lot.status in (LotStatus.VOIDED, LotStatus.REVERSED):
        return 0
    return max(lot.amount_fen - lot.refunded_fen, 0)


def _memo(row: Any, basis_fen: int, fen: int) -> str:
    return (
        f"referral {row.kind} reward {fen} fen to promoter {row.promoter_id} on order "
        f"{row.order_ref} at {row.merchant_id} (paid {row.order_fen} fen, basis {basis_fen} fen, "
        f"{row.share_bp} bp, rules v{row.rule_version}); funded_by {FUNDED_BY}"
    )[:500]


def _accrued_this_month(tx: Connection, promoter_ids: set[str], months: set[str]) -> dict[Any, int]:
    c = t.referral_rewards.c
    rows = tx.execute(
        select(c.promoter_id, c.month, func.sum(c.fen))
        .where(c.state == "accrued", c.promoter_id.in_(promoter_ids), c.month.in_(months))
        .group_by(c.promoter_id, c.month)
    ).all()
    return {(p, m): int(fen) for p, m, fen in rows}


def _settle_batch(ctx: Context, tx: Connection, now: datetime, limit: int) -> tuple[int, int, int]:
    c = t.referral_rewards.c
    due = tx.execute(
        select(t.referral_rewards)
        .where(c.state == "pending", c.due_at <= now)
        .order_by(c.due_at, c.reward_id)
        .limit(limit)
        .with_for_update()
    ).all()
    if not due:
        return 0, 0, 0
    lots = queries.lots_by_id(tx, sorted({r.earn_entry_id for r in due}))
    months = {month_of(r.due_at) for r in due}
    used = _accrued_this_month(tx, {r.promoter_id for r in due}, months)
    terms: dict[int, ReferralRules] = {}
    posts: list[tuple[Any, Post]] = []
    accrued = reversed_ = total = 0
    for row in due:
        if row.rule_version not in terms:
            terms[row.rule_version] = _terms(ctx, tx, row.rule_version)
        month = month_of(row.due_at)
        basis = _basis_fen(lots.get(row.earn_entry_id))
        fen, cut = capped(
            reward_fen(basis, row.share_bp),
            used.get((row.promoter_id, month), 0),
            terms[row.rule_version].monthly_cap_fen,
        )
        values = {"basis_fen": basis, "fen": fen, "capped_fen": cut, "month": month,
                  "settled_at": now, "state": "accrued" if fen else "reversed"}  # fmt: skip
        if fen:
            used[row.promoter_id, month] = used.get((row.promoter_id, month), 0) + fen
            legs = (Leg(REVENUE, Asset.CNY, -fen), Leg(REFERRAL_PAYABLE, Asset.CNY, fen))
            posts.append((row, Post(accrual_key(row.reward_id), legs, _memo(row, basis, fen))))
            accrued, total = accrued + 1, total + fen
        else:
            reversed_ += 1
        tx.execute(update(t.referral_rewards).where(c.reward_id == row.reward_id).values(**values))
    receipts = ctx.ledger.submit_batch([post for _, post in posts], now, conn=tx) if posts else []
    for (row, _), receipt in zip(posts, receipts, strict=True):
        tx.execute(
            update(t.referral_rewards)
            .where(c.reward_id == row.reward_id)
            .values(entry_id=receipt.entry_id)
        )
    return accrued, reversed_, total


def accrue_due(
    ctx: Context, now: datetime | None = None, *, limit: int = MAX_BATCH
) -> AccrualResult:
    """Settle every pending reward due by ``now`` (see the module docstring), ``limit`` per
    transaction: each batch's rows and ledger entries commit together or not at all."""
    now = now or ctx.clock.now()
    accrued = reversed_ = total = 0
    while True:
        a, r, fen = ctx.atomic(None, lambda tx: _settle_batch(ctx, tx, now, limit))
        accrued, reversed_, total = accrued + a, reversed_ + r, total + fen
        if a + r < limit:
            return AccrualResult(accrued, reversed_, total)


# -- reading ---------------------------------------------------------------------------------------


def list_rewards(
    ctx: Context,
    *,
    promoter_id: str | None = None,
    merchant_id: str | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Reward]:
    """Rewards, newest window first (due_at, reward id): a promoter's own (``promoter_id``), those
    on one merchant's orders (``merchant_id``), or all; of one ``state`` or every one."""
    if state is not None and state not in STATES:
        raise InvalidRequest("state 须为 pending、accrued 或 reversed / unknown state",
                             field="state")  # fmt: skip
    c = t.referral_rewards.c
    where = [older_than(c.due_at, c.reward_id, cursor)]
    for column, value in ((c.promoter_id, promoter_id), (c.merchant_id, merchant_id),
                          (c.state, state)):  # fmt: skip
        if value is not None:
            where.append(column == value)
    query = (
        select(t.referral_rewards)
        .where(*where)
        .order_by(c.due_at.desc(), c.reward_id.desc())
        .limit(check_limit(limit) + 1)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [Reward(**r._mapping) for r in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return Page(items, encode_cursor([last.due_at, last.reward_id]) if last else None)
