"""Redemption limits: how many points an order may be paid with (brief §6, redemption limits).

Pure checks the redeem flow runs before it places a hold. The limit in points rounds DOWN: points
may pay at most ``max_order_share_bp`` of the order, never a fen more.
"""

from __future__ import annotations

from jifen.rules._document import RuleDocument
from jifen.rules.errors import BelowMinimum, CategoryExcluded, InvalidArgument, OverOrderShare

BP = 10_000


def redemption_limit(doc: RuleDocument, *, order_amount_fen: int, category: str) -> int:
    """The most points the order may be paid with: ``amount * share_bp // 10000 // fen_per_point``,
    or 0 when the merchant's category is excluded from redemption."""
    if order_amount_fen < 0:
        raise InvalidArgument(
            "订单金额不能为负 / order_amount_fen must be >= 0", order_amount_fen=order_amount_fen
        )
    rules = doc.redemption
    if category in rules.excluded_categories:
        return 0
    return order_amount_fen * rules.max_order_share_bp // BP // doc.point_value.fen_per_point


def check_redemption(
    doc: RuleDocument, *, points: int, order_amount_fen: int, category: str
) -> None:
    """Refuse a redemption the rules do not allow: excluded category, then minimum, then share."""
    rules = doc.redemption
    if category in rules.excluded_categories:
        raise CategoryExcluded(
            f"该品类不可使用积分 / points cannot be spent in category {category!r}",
            category=category,
            excluded_categories=list(rules.excluded_categories),
        )
    if points < rules.min_points:
        raise BelowMinimum(
            f"至少使用 {rules.min_points} 积分 / at least {rules.min_points} points per redemption",
            points=points,
            min_points=rules.min_points,
        )
    limit = redemption_limit(doc, order_amount_fen=order_amount_fen, category=category)
    if points > limit:
        raise OverOrderShare(
            f"本单最多使用 {limit} 积分 / at most {limit} points on this order",
            points=points,
            limit_points=limit,
            max_order_share_bp=rules.max_order_share_bp,
        )
