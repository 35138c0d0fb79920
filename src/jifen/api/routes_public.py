"""Public: anyone may read the rules in force, upcoming changes with their diffs and dates, and
the full history of changes (brief §1: no rule changes overnight, nothing hidden)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from jifen.api.auth import Ctx
from jifen.api.schemas import Problem, RuleVersionOut, version_out
from jifen.app.rulebook import view, views_at
from jifen.rules import VersionStatus, rule_json_schema, status_at

router = APIRouter(prefix="/v1/public", tags=["public 公开"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "no rules in force"}
}


@router.get("/rules/current", response_model=RuleVersionOut, responses=NOT_FOUND)
def current_rules(ctx: Ctx) -> RuleVersionOut:
    """现行规则 / the rule version in force now."""
    now = ctx.clock.now()
    return version_out(view(ctx.rulebook.in_force(now), VersionStatus.EFFECTIVE))


@router.get("/rules/upcoming", response_model=list[RuleVersionOut])
def upcoming_rules(ctx: Ctx) -> list[RuleVersionOut]:
    """已公示、尚未生效的变更（含差异与生效时间）/ announced changes, with diffs and dates."""
    now = ctx.clock.now()
    versions = ctx.rulebook.published()
    return [
        version_out(view(v, VersionStatus.PUBLISHED))
        for v in versions
        if status_at(v, versions, now) is VersionStatus.PUBLISHED
    ]


@router.get("/rules/history", response_model=list[RuleVersionOut])
def rule_history(ctx: Ctx) -> list[RuleVersionOut]:
    """全部公示记录 / every published version, oldest first, with its reason and diff."""
    now = ctx.clock.now()
    return [version_out(v) for v in views_at(ctx.rulebook.published(), now)]


@router.get("/rules/schema")
def rules_schema() -> dict[str, Any]:
    """规则文档的 JSON Schema / the JSON Schema rule documents are validated against."""
    return rule_json_schema()
