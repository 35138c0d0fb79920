"""The demo's rules: version 1 at launch, version 2 announced on day 30 with notice, and the
rights-cutting draft the rights gate refuses."""

from __future__ import annotations

from datetime import datetime, timedelta

from jifen.app import Context
from jifen.errors import JifenError
from jifen.rules import RuleDocument

__all__ = ["RULES_V1", "announce_change", "rules_cut", "rules_v2"]

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


def announce_change(ctx: Context, today: datetime) -> str:
    """Day 30: a rights-cutting draft is refused (its code returned); a fair change is published
    with notice."""
    refused = ""
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
        refused = exc.code
    v2 = ctx.rulebook.draft(rules_v2(), today)
    ctx.rulebook.publish(
        v2.number,
        effective_at=today + timedelta(days=30),
        reason="书店三倍积分，有效期延长至 3 个月 / books 3×, expiry 3 months",
        now=today,
        points_outstanding=True,
    )
    return refused
