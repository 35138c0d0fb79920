"""What the consoles show of referral rewards and payouts: read-only views over the referral
tables, for a promoter (their referrer, totals, each reward with the order it came from, their
payouts month by month with the tax withheld) and for a merchant (the rewards its orders carried,
its recruiter and until when the recruiter shares its order flow).

Nothing here writes, and nothing here decides pay: the counts of people a promoter referred are
shown to the promoter only, never summed into an amount (PYR-2 forbids pay on the number
recruited). A merchant sees which of its orders carried rewards and at which level, never who
earned them (the operator pays them, from its own revenue), and its recruiter only by the last
characters of the member id (personal information the merchant does not need: PIPL art 6).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, select

from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, older_than, time_cursor
from jifen.promoters import graph
from jifen.promoters.config import month_of
from jifen.referral import add_months, reward_fen
from jifen.rules.errors import NoRulesInForce
from jifen.store import tables as t

r_ = t.referral_rewards.c
lines_ = t.referral_payout_lines.c


def _of(cls: Any, row: Any) -> Any:
    """A view dataclass from a row holding (at least) its fields; None from no row."""
    return None if row is None else cls(**{f.name: row._mapping[f.name] for f in fields(cls)})


def masked(member_id: str) -> str:
    """A member id as a merchant may read it: its last four characters only."""
    return "****" + member_id[-4:]


# -- a promoter ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Referrer:
    promoter_id: str
    source: str  # scan | link | operator
    bound_at: datetime
    changed_at: datetime | None


@dataclass(frozen=True)
class PromoterSummary:
    """A promoter's totals in fen. ``pending_fen`` is what pending rewards would be at their
    share of what is left of their orders today (refunds inside the window and the monthly cap
    can still lower it); ``owed_fen`` is accrued and not yet paid; ``paid_*`` are the payout
    lines that succeeded, gross, the tax withheld and the net received."""

    member_id: str
    referrer: Referrer | None
    referred_members: int  # shown to the promoter, never used for pay (PYR-2)
    recruited_merchants: int
    pending_fen: int
    owed_fen: int
    month: str  # this Asia/Shanghai month, YYYY-MM
    month_accrued_fen: int
    paid_gross_fen: int
    paid_tax_fen: int
    paid_net_fen: int


@dataclass(frozen=True)
class Reward:
    """One share of one order. ``fen`` is 0 until the order's return window ends
    (``due_at``); ``expected_fen`` is what a pending reward comes to on today's basis.
    ``why`` says why a reward is reversed or smaller than its share: ``refunded`` (the order
    was refunded inside the window), ``part_refunded``, ``capped`` (the monthly cap took it
    all), ``part_capped``, ``below_fen`` (the share of what was left is under one fen)."""

    reward_id: str
    order_ref: str
    merchant_id: str
    kind: str  # direct | indirect | recruiter
    share_bp: int
    order_fen: int
    basis_fen: int
    fen: int
    capped_fen: int
    expected_fen: int
    state: str  # pending | accrued | reversed
    paid_at: datetime
    due_at: datetime
    settled_at: datetime | None
    month: str | None
    paid_out: bool
    why: str | None


def promoter_code(ctx: Context, member_id: str) -> str:
    """The promoter's own code (the one a new member scans or follows in a shared link)."""
    return graph.promoter_code(ctx, member_id)


def _paid_line(member: Any) -> Any:
    """A succeeded payout line of ``member`` in the reward's batch."""
    return exists().where(
        lines_.batch_id == r_.batch_id, lines_.member_id == member, lines_.state == "succeeded"
    )


def _sums(conn: Connection, columns: list[Any], *where: Any) -> list[int]:
    totals = select(*(func.coalesce(func.sum(c), 0) for c in columns)).where(*where)
    return [int(x) for x in conn.execute(totals).one()]


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def promoter_summary(ctx: Context, member_id: str, now: datetime) -> PromoterSummary:
    """The promoter's referrer, how many members and merchants they brought, and their totals."""
    month = month_of(now)  # the accrual month rewards carry, Asia/Shanghai
    with ctx.engine.connect() as c:
        link = c.execute(
            select(t.referral_links).where(t.referral_links.c.member_id == member_id)
        ).first()
        pending = c.execute(
            select(r_.basis_fen, r_.share_bp).where(
                r_.promoter_id == member_id, r_.state == "pending"
            )
        ).all()
        accrued = (r_.promoter_id == member_id, r_.state == "accrued")
        paid = _sums(
            c,
            [lines_.gross_fen, lines_.tax_fen, lines_.net_fen],
            lines_.member_id == member_id,
            lines_.state == "succeeded",
        )
        return PromoterSummary(
            member_id=member_id,
            referrer=_of(Referrer, link),
            referred_members=_count(
                c, t.referral_links, t.referral_links.c.promoter_id == member_id
            ),
            recruited_merchants=_count(
                c, t.merchant_recruiters, t.merchant_recruiters.c.promoter_id == member_id
            ),
            pending_fen=sum(reward_fen(int(b), int(s)) for b, s in pending),
            owed_fen=_sums(c, [r_.fen], *accrued, ~_paid_line(member_id))[0],
            month=month,
            month_accrued_fen=_sums(c, [r_.fen], *accrued, r_.month == month)[0],
            paid_gross_fen=paid[0],
            paid_tax_fen=paid[1],
            paid_net_fen=paid[2],
        )


def _why(row: Any) -> str | None:
    basis, order, capped = int(row.basis_fen), int(row.order_fen), int(row.capped_fen)
    if row.state == "reversed":
        if basis == 0:
            return "refunded"
        return "capped" if capped > 0 else "below_fen"
    if capped > 0:
        return "part_capped"
    return "part_refunded" if basis < order else None


def _reward(row: Any, paid_out: bool) -> Reward:
    """A reward row as shown: a pending one with the reward its basis comes to today."""
    stored = row._mapping
    expected = reward_fen(row.basis_fen, row.share_bp) if row.state == "pending" else row.fen
    return Reward(
        **{f.name: stored[f.name] for f in fields(Reward) if f.name in stored},
        expected_fen=expected,
        paid_out=paid_out,
        why=_why(row),
    )


def promoter_rewards(ctx: Context, member_id: str, cursor: str | None, limit: int) -> Page[Reward]:
    """The promoter's rewards, newest order first, ``limit`` a page: only their own."""
    check_limit(limit)
    query = (
        select(t.referral_rewards, _paid_line(member_id).label("paid_line"))
        .where(r_.promoter_id == member_id, older_than(r_.paid_at, r_.reward_id, cursor))
        .order_by(r_.paid_at.desc(), r_.reward_id.desc())
        .limit(limit + 1)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [_reward(row, bool(row.paid_line)) for row in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return Page(items, time_cursor(last.paid_at, last.reward_id) if last else None)


# -- a payee ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayeeStatus:
    """Whether a promoter may be paid: real name verified and the consent given. The real name,
    the ID number and the account stay sealed; only the account's hint is shown."""

    account_kind: str  # wechat_openid | bank_card
    account_hint: str
    verified_at: datetime | None
    consented_at: datetime | None

    @property
    def ready(self) -> bool:
        return self.verified_at is not None and self.consented_at is not None


@dataclass(frozen=True)
class PayoutLine:
    batch_id: str
    tax_month: str
    method: str  # per_payment | cumulative
    gross_fen: int
    taxable_fen: int
    rate_bp: int
    quick_deduction_fen: int
    tax_fen: int
    net_fen: int
    state: str  # due | processing | succeeded | failed
    finished_at: datetime | None


@dataclass(frozen=True)
class PayoutMonth:
    """One tax month: the totals of the lines paid (succeeded), and every line of the month,
    paid or not (a failed line is paid again by a later batch, so it is not counted)."""

    month: str
    gross_fen: int
    tax_fen: int
    net_fen: int
    methods: tuple[str, ...]
    lines: tuple[PayoutLine, ...]


@dataclass(frozen=True)
class PayoutYear:
    year: int
    payee: PayeeStatus | None
    months: tuple[PayoutMonth, ...]  # newest first
    gross_fen: int
    tax_fen: int
    net_fen: int


MAX_LINES_A_YEAR = 1_000  # a payee has a few batches a month at most: far below this bound


def payee_payouts(ctx: Context, member_id: str, year: int) -> PayoutYear:
    """The payee's payouts taxed in ``year``, month by month, and whether they may be paid."""
    with ctx.engine.connect() as conn:
        payee = conn.execute(select(t.payees).where(t.payees.c.member_id == member_id)).first()
        rows = conn.execute(
            select(t.referral_payout_lines)
            .where(lines_.member_id == member_id, lines_.tax_month.like(f"{year:04d}-%"))
            .order_by(lines_.tax_month.desc(), lines_.batch_id.desc())
            .limit(MAX_LINES_A_YEAR)
        ).all()
    by_month: dict[str, list[PayoutLine]] = {}
    for row in rows:
        by_month.setdefault(row.tax_month, []).append(_of(PayoutLine, row))
    months = tuple(_month(month, lines) for month, lines in by_month.items())
    return PayoutYear(
        year=year,
        payee=_of(PayeeStatus, payee),
        months=months,
        gross_fen=sum(m.gross_fen for m in months),
        tax_fen=sum(m.tax_fen for m in months),
        net_fen=sum(m.net_fen for m in months),
    )


def _month(month: str, lines: list[PayoutLine]) -> PayoutMonth:
    paid = [x for x in lines if x.state == "succeeded"]
    return PayoutMonth(
        month=month,
        gross_fen=sum(x.gross_fen for x in paid),
        tax_fen=sum(x.tax_fen for x in paid),
        net_fen=sum(x.net_fen for x in paid),
        methods=tuple(sorted({x.method for x in lines})),
        lines=tuple(lines),
    )


def payout_years(ctx: Context, member_id: str) -> list[int]:
    """The years the payee has payout lines in, newest first (the payouts page's year links)."""
    year = func.substr(lines_.tax_month, 1, 4)
    with ctx.engine.connect() as conn:
        found = conn.execute(
            select(year).where(lines_.member_id == member_id).group_by(year).order_by(year.desc())
        ).scalars()
        return [int(y) for y in found]


# -- a merchant ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MerchantReward:
    """A reward one of the merchant's orders carried: the order, the level, the share, the
    basis and the reward. No promoter is named: the operator pays them, not the merchant."""

    order_ref: str
    kind: str
    share_bp: int
    basis_fen: int
    fen: int
    capped_fen: int
    expected_fen: int
    state: str
    paid_at: datetime
    due_at: datetime
    month: str | None
    why: str | None

    @classmethod
    def of(cls, reward: Reward) -> MerchantReward:
        return cls(**{f.name: getattr(reward, f.name) for f in fields(cls)})


def merchant_rewards(
    ctx: Context, merchant_id: str, cursor: str | None, limit: int
) -> Page[MerchantReward]:
    """The rewards attributed to ``merchant_id``'s own orders, newest order first."""
    check_limit(limit)
    query = (
        select(t.referral_rewards)
        .where(r_.merchant_id == merchant_id, older_than(r_.paid_at, r_.reward_id, cursor))
        .order_by(r_.paid_at.desc(), r_.reward_id.desc())
        .limit(limit + 1)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [MerchantReward.of(_reward(row, False)) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return Page(items, time_cursor(last.paid_at, last.reward_id) if last else None)


@dataclass(frozen=True)
class MerchantRecruiter:
    """The merchant's recruiter, by the last characters of its member id. ``until``: the end of
    the months the rule in force now gives recruiters, from ``bound_at`` (None when no rule is
    in force); ``share_bp``: that rule's recruiter share (0: recruiters earn nothing now)."""

    promoter_hint: str
    bound_at: datetime
    months: int | None
    until: datetime | None
    share_bp: int
    sharing: bool


def merchant_recruiter(ctx: Context, merchant_id: str, now: datetime) -> MerchantRecruiter | None:
    """Who recruited the merchant, and until when they share its order flow under the rules in
    force at ``now``. Each order's share is decided by the version in force when it was paid, so
    a later version may move the end; this is the end as the rules stand today."""
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(t.merchant_recruiters).where(t.merchant_recruiters.c.merchant_id == merchant_id)
        ).first()
    if row is None:
        return None
    try:
        terms = ctx.rulebook.in_force(now).document.referral
    except NoRulesInForce:
        return MerchantRecruiter(masked(row.promoter_id), row.bound_at, None, None, 0, False)
    until = add_months(row.bound_at, terms.recruiter_months)
    return MerchantRecruiter(
        promoter_hint=masked(row.promoter_id),
        bound_at=row.bound_at,
        months=terms.recruiter_months,
        until=until,
        share_bp=terms.recruiter_bp,
        sharing=bool(terms.recruiter_bp) and row.bound_at <= now < until,
    )
