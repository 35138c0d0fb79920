"""Earning: how many points an order earns, when they release and when they expire (brief §6).

Pure functions of a ``RuleDocument`` and plain values; the caller supplies the payment time and how
many points the member already earned today, so nothing here reads a clock or a database.

Rounding is ROUND_DOWN (floor) at every step, in this order:

1. multiplier: merchant override, else category multiplier, else 10000 bp (1×);
2. the best campaign active at ``paid_at`` multiplies it: ``mult * campaign_bp // 10000``;
3. points: ``amount_fen * points_per_yuan * mult // (100 fen/yuan * 10000 bp)``;
4. the per-order cap, then the per-member-per-day cap (what is left of it today, never below 0).

Flooring once on the product (rather than per yuan) means ¥9.99 at 1 point/yuan earns 9 points and
¥10.00 earns 10: no point is ever issued that the rule does not fully pay for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from jifen.rules._document import Campaign, RuleDocument
from jifen.rules._time import (
    add_months,
    end_of_local_day,
    last_day_of_month,
    local_date,
    require_aware,
)
from jifen.rules.errors import InvalidArgument

ONE_X_BP = 10_000
FEN_PER_YUAN = 100

CapReason = Literal["per_order", "per_member_per_day", "min_spend"]


@dataclass(frozen=True, slots=True)
class EarnQuote:
    """Points an order earns and why: the effective multiplier, the campaign, any cap applied."""

    points: int
    rate_bp: int
    campaign: str | None
    capped_by: CapReason | None


def _applies(campaign: Campaign, *, merchant_id: str, category: str, paid_at: datetime) -> bool:
    return (
        campaign.starts_at <= paid_at < campaign.ends_at
        and (not campaign.categories or category in campaign.categories)
        and (not campaign.merchants or merchant_id in campaign.merchants)
    )


def best_campaign(
    doc: RuleDocument, *, merchant_id: str, category: str, paid_at: datetime
) -> Campaign | None:
    """The applicable campaign with the highest multiplier; on a tie, the first one listed."""
    best: Campaign | None = None
    for campaign in doc.earn.campaigns:
        if _applies(campaign, merchant_id=merchant_id, category=category, paid_at=paid_at) and (
            best is None or campaign.multiplier_bp > best.multiplier_bp
        ):
            best = campaign
    return best


def quote_earn(
    doc: RuleDocument,
    *,
    amount_fen: int,
    merchant_id: str,
    category: str,
    paid_at: datetime,
    earned_today_points: int,
) -> EarnQuote:
    """Points earned by an order of ``amount_fen`` paid at ``paid_at`` (see module docstring)."""
    require_aware("paid_at", paid_at)
    if amount_fen < 0:
        raise InvalidArgument("金额不能为负 / amount_fen must be >= 0", amount_fen=amount_fen)
    if earned_today_points < 0:
        raise InvalidArgument(
            "今日已得积分不能为负 / earned_today_points must be >= 0",
            earned_today_points=earned_today_points,
        )
    earn = doc.earn
    mult_bp = earn.merchant_multipliers_bp.get(
        merchant_id, earn.category_multipliers_bp.get(category, ONE_X_BP)
    )
    campaign = best_campaign(doc, merchant_id=merchant_id, category=category, paid_at=paid_at)
    if campaign is not None:
        mult_bp = mult_bp * campaign.multiplier_bp // ONE_X_BP
    name = campaign.name if campaign is not None else None

    if amount_fen < earn.min_spend_fen:
        return EarnQuote(points=0, rate_bp=mult_bp, campaign=name, capped_by="min_spend")

    points = amount_fen * earn.points_per_yuan * mult_bp // (FEN_PER_YUAN * ONE_X_BP)
    capped_by: CapReason | None = None
    if earn.max_points_per_order is not None and points > earn.max_points_per_order:
        points, capped_by = earn.max_points_per_order, "per_order"
    if earn.max_points_per_member_per_day is not None:
        remaining = max(0, earn.max_points_per_member_per_day - earned_today_points)
        if points > remaining:
            points, capped_by = remaining, "per_member_per_day"
    return EarnQuote(points=points, rate_bp=mult_bp, campaign=name, capped_by=capped_by)


def release_at(doc: RuleDocument, paid_at: datetime) -> datetime:
    """When pending points release: ``paid_at`` plus the return window, in UTC.

    Days are 24-hour days; Asia/Shanghai has no daylight saving, so this is also calendar days.
    """
    require_aware("paid_at", paid_at)
    return paid_at.astimezone(UTC) + timedelta(days=doc.pending.return_window_days)


def expires_at(doc: RuleDocument, released_at: datetime) -> datetime | None:
    """The first instant (UTC) at which points released at ``released_at`` are expired, or None.

    - ``rolling``: the end of the Shanghai calendar day ``months`` months after release;
    - ``fixed_month_end``: ``months`` months after release, then on to the end of the next last
      day of ``month_of_year`` (on or after that date): Payback's "36 months, then 30 Sep";
    - ``none``: never.

    Month arithmetic clamps to the month's length (release on 31 Aug + 6 months → 28/29 Feb).
    """
    require_aware("released_at", released_at)
    expiry = doc.expiry
    if expiry.policy == "none":
        return None
    anchor = add_months(local_date(released_at), expiry.months)
    if expiry.policy == "rolling":
        return end_of_local_day(anchor)
    assert expiry.month_of_year is not None  # the model requires it for fixed_month_end
    last = last_day_of_month(anchor.year, expiry.month_of_year)
    if last < anchor:
        last = last_day_of_month(anchor.year + 1, expiry.month_of_year)
    return end_of_local_day(last)
