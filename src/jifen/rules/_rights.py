"""The rights gate (compliance PTS-4): terms attached to issued points may only stay or improve.

Format terms that limit consumer rights are void (消保法 art 26) and promotion terms may change
only in the consumer's favour (规范促销行为暂行规定 art 13). So while points are outstanding, a
new version may not lower their value, shorten their expiry, or add conditions on spending them;
that is refused outright, whatever the notice. Earn terms, the issue price, the pending window and
notice_days only govern points not yet earned: they are prospective and need notice, not consent.
So do the referral terms: a share applies to orders paid while it is in force, and a reward
already accrued is money owed, which no rule version touches.

Expiry is compared conservatively: a change passes only when it is *provably* at least as long for
every possible release time, using bounds in months from the release date ``d``:

- rolling ``m`` ends at the end of day ``d + m months``, exactly;
- fixed_month_end ``m`` ends no earlier than ``d + m months`` and strictly before ``d + (m + 12)
  months`` (the next last day of the month falls within the next 12 calendar months);
- same-month fixed_month_end with more months is at least as long (the anchor only moves later);
- none never ends.

So the proposed expiry is safe iff it is none, or the same fixed month with months ≥, or its lower
bound in months is ≥ the current upper bound. Anything else is a reduction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jifen.rules._document import ExpiryRules, RuleDocument


@dataclass(frozen=True, slots=True)
class Reduction:
    """One term of issued points that the proposed document would make worse, and why."""

    path: str
    old: Any
    new: Any
    reason_zh: str
    reason_en: str


def expiry_at_least_as_long(current: ExpiryRules, proposed: ExpiryRules) -> bool:
    """True when ``proposed`` provably never expires points earlier than ``current``."""
    if proposed.policy == "none":
        return True
    if current.policy == "none":
        return False
    if (
        current.policy == proposed.policy == "fixed_month_end"
        and current.month_of_year == proposed.month_of_year
    ):
        return proposed.months >= current.months
    current_upper = current.months + (12 if current.policy == "fixed_month_end" else 0)
    return proposed.months >= current_upper


def _expiry_terms(expiry: ExpiryRules) -> dict[str, Any]:
    return expiry.model_dump(mode="json")


def rights_reductions(current: RuleDocument, proposed: RuleDocument) -> list[Reduction]:
    """Every point-holder term that ``proposed`` makes worse than ``current`` (empty = allowed)."""
    found: list[Reduction] = []
    old_value, new_value = current.point_value.fen_per_point, proposed.point_value.fen_per_point
    if new_value < old_value:
        found.append(
            Reduction(
                "point_value.fen_per_point",
                old_value,
                new_value,
                "降低已发积分的价值",
                "lowers the value of points already issued",
            )
        )
    if not expiry_at_least_as_long(current.expiry, proposed.expiry):
        found.append(
            Reduction(
                "expiry",
                _expiry_terms(current.expiry),
                _expiry_terms(proposed.expiry),
                "可能缩短已发积分的有效期",
                "may shorten the validity of points already issued",
            )
        )
    old_min, new_min = current.redemption.min_points, proposed.redemption.min_points
    if new_min > old_min:
        found.append(
            Reduction(
                "redemption.min_points",
                old_min,
                new_min,
                "提高积分使用门槛",
                "raises the minimum points per redemption",
            )
        )
    old_share = current.redemption.max_order_share_bp
    new_share = proposed.redemption.max_order_share_bp
    if new_share < old_share:
        found.append(
            Reduction(
                "redemption.max_order_share_bp",
                old_share,
                new_share,
                "降低积分可抵扣的订单比例",
                "lowers the share of an order points may pay",
            )
        )
    added = sorted(
        set(proposed.redemption.excluded_categories) - set(current.redemption.excluded_categories)
    )
    if added:
        found.append(
            Reduction(
                "redemption.excluded_categories",
                list(current.redemption.excluded_categories),
                list(proposed.redemption.excluded_categories),
                f"新增不可用积分的品类：{'、'.join(added)}",
                f"adds categories where points cannot be spent: {', '.join(added)}",
            )
        )
    old_shortfall, new_shortfall = current.refund.shortfall, proposed.refund.shortfall
    if old_shortfall == "deduct_from_refund" and new_shortfall == "record_debt":
        found.append(
            Reduction(
                "refund.shortfall",
                old_shortfall,
                new_shortfall,
                "退款时对已用积分改为记欠款",
                "turns spent points on refund into a debt on the member",
            )
        )
    return found
