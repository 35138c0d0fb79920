"""A rule document in plain words (通俗说明): the terms a member lives under, as sentences.

The document speaks in basis points, fen and policy names; a member reads "¥1 earns 1 point" and
"points expire 12 months after they are released". Each term here is a catalogue message id and
the figures it is filled with, taken from the document as it is, so the sentence can never say
something the rule does not. Which sentence applies is decided here (a cap that is not set says
nothing; each expiry policy has its own sentence); the words are in web-public.po.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from jifen.rules import RuleDocument
from jifen.web.render import yuan

FULL_BP = 10_000


@dataclass(frozen=True)
class Term:
    """One sentence: ``t(msgid, **fields)``, and data shown after it as written (ids)."""

    name: str
    msgid: str
    fields: dict[str, str] = field(default_factory=dict)
    data: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rate:
    """Points per ¥1 where a multiplier applies (a category or a merchant)."""

    key: str  # the category or merchant id, as the rule names it
    multiplier: str  # "1.5×" without the sign: "1.5"
    points_per_yuan: str  # "1.5"


@dataclass(frozen=True)
class CampaignLine:
    name: str
    starts_at: datetime
    ends_at: datetime
    multiplier: str
    where: tuple[str, ...]  # categories and merchants; empty = everywhere


def ratio(n: int) -> str:
    """``n`` ÷ 10000 as a short decimal (15000 → "1.5", 10000 → "1"), by integer arithmetic."""
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), FULL_BP)
    text = f"{whole}.{frac:04d}".rstrip("0").rstrip(".")
    return sign + text


def percent(bp: int) -> str:
    """Basis points as a percentage without the sign (5000 → "50")."""
    return ratio(bp * 100)


def terms(doc: RuleDocument) -> list[Term]:
    """Every term of ``doc`` a member is bound by, in the order they meet them."""
    return [*_earning(doc), *_holding(doc), *_spending(doc), *referral_terms(doc), *_changes(doc)]


def _earning(doc: RuleDocument) -> list[Term]:
    earn = doc.earn
    found = []
    if earn.points_per_yuan:
        found.append(Term("earn", "web.public.rule.earn", {"points": str(earn.points_per_yuan)}))
        found.append(Term("round_down", "web.public.rule.round_down"))
    else:
        found.append(Term("earn", "web.public.rule.earn_none"))
    if earn.min_spend_fen:
        found.append(
            Term("min_spend", "web.public.rule.min_spend", {"yuan": yuan(earn.min_spend_fen)})
        )
    if earn.max_points_per_order is not None:
        found.append(
            Term(
                "per_order",
                "web.public.rule.per_order",
                {"points": f"{earn.max_points_per_order:,}"},
            )
        )
    if earn.max_points_per_member_per_day is not None:
        found.append(
            Term(
                "per_day",
                "web.public.rule.per_day",
                {"points": f"{earn.max_points_per_member_per_day:,}"},
            )
        )
    return found


def _holding(doc: RuleDocument) -> list[Term]:
    days = doc.pending.return_window_days
    found = [
        Term("pending", "web.public.rule.pending", {"days": str(days)})
        if days
        else Term("pending", "web.public.rule.pending_none")
    ]
    expiry = doc.expiry
    if expiry.policy == "rolling":
        found.append(
            Term("expiry", "web.public.rule.expiry_rolling", {"months": str(expiry.months)})
        )
    elif expiry.policy == "fixed_month_end":
        found.append(
            Term(
                "expiry",
                "web.public.rule.expiry_fixed",
                {"months": str(expiry.months), "month": str(expiry.month_of_year)},
            )
        )
    else:
        found.append(Term("expiry", "web.public.rule.expiry_none"))
    return found


def _spending(doc: RuleDocument) -> list[Term]:
    value = doc.point_value.fen_per_point
    r = doc.redemption
    found = [
        Term("value", "web.public.rule.value", {"points": "100", "yuan": yuan(100 * value)}),
        Term("min_points", "web.public.rule.min_points", {"points": f"{r.min_points:,}"}),
        Term("share", "web.public.rule.share_all")
        if r.max_order_share_bp >= FULL_BP
        else Term("share", "web.public.rule.share", {"percent": percent(r.max_order_share_bp)}),
    ]
    if r.excluded_categories:
        found.append(
            Term("excluded", "web.public.rule.excluded", data=tuple(r.excluded_categories))
        )
    found.append(Term("refund", f"web.public.rule.refund_{doc.refund.shortfall}"))
    return found


def referral_terms(doc: RuleDocument) -> list[Term]:
    """The referral rewards, only when some share is paid (all zero = no referral rewards, and
    nothing to say). They are money, not points, and never paid for bringing someone in."""
    r = doc.referral
    indirect = r.indirect_bp if r.depth >= 2 else 0
    if not (r.direct_bp or indirect or r.recruiter_bp):
        return []
    found = []
    if r.direct_bp:
        found.append(
            Term(
                "referral_direct",
                "web.public.rule.referral_direct",
                {"percent": percent(r.direct_bp)},
            )
        )
    if indirect:
        found.append(
            Term(
                "referral_indirect",
                "web.public.rule.referral_indirect",
                {"percent": percent(indirect)},
            )
        )
    if r.recruiter_bp:
        found.append(
            Term(
                "referral_recruiter",
                "web.public.rule.referral_recruiter",
                {"percent": percent(r.recruiter_bp), "months": str(r.recruiter_months)},
            )
        )
    if r.monthly_cap_fen is not None:
        found.append(
            Term("referral_cap", "web.public.rule.referral_cap", {"yuan": yuan(r.monthly_cap_fen)})
        )
    found.append(Term("referral_never", "web.public.rule.referral_never"))
    return found


def _changes(doc: RuleDocument) -> list[Term]:
    price = doc.issue_price.fen_per_1000_points
    value = 1000 * doc.point_value.fen_per_point
    return [
        Term(
            "issue_price",
            "web.public.rule.issue_price",
            {"yuan": yuan(price), "value": yuan(value)},
        ),
        Term("notice", "web.public.rule.notice", {"days": str(doc.notice_days)}),
        Term("kept", "web.public.rule.kept"),
    ]


def category_rates(doc: RuleDocument, categories: Iterable[str] = ()) -> list[Rate]:
    """Points per ¥1 in each of ``categories`` (the alliance's) and each the rule names: a
    category the rule does not name earns the base rate (1×)."""
    named = {category: FULL_BP for category in categories}
    return _rates(doc, {**named, **doc.earn.category_multipliers_bp})


def merchant_rates(doc: RuleDocument) -> list[Rate]:
    """Points per ¥1 at each merchant the rule names (this beats the category's)."""
    return _rates(doc, doc.earn.merchant_multipliers_bp)


def _rates(doc: RuleDocument, multipliers: dict[str, int]) -> list[Rate]:
    base = doc.earn.points_per_yuan
    return [Rate(key, ratio(bp), ratio(base * bp)) for key, bp in sorted(multipliers.items())]


def campaigns(doc: RuleDocument) -> list[CampaignLine]:
    return [
        CampaignLine(
            c.name, c.starts_at, c.ends_at, ratio(c.multiplier_bp), (*c.categories, *c.merchants)
        )
        for c in doc.earn.campaigns
    ]
