"""The rule document: one immutable, validated value holding every term of a rule set (brief §6).

Why pydantic: the same model validates operator input, produces the published JSON Schema
(``docs/rules.schema.json``) and dumps to the canonical JSON that diffs and hashes are taken over.
Every model is frozen (a published version can never be edited in place) and forbids unknown keys
(a misspelt term must fail loudly, not be silently ignored).

Units are in the names and there are no floats anywhere: money is integer fen, points are integers,
rates and multipliers are basis points (``_bp``, 10000 = 1×). Integers are strict, so ``1.5`` or
``"2"`` in a document is refused rather than coerced.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Annotated, Any, Literal, Self

import yaml  # type: ignore[import-untyped, unused-ignore]
from pydantic import (
    AfterValidator,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jifen.rules._frozen import Frozen as _Frozen
from jifen.rules._referral import COMPLIANCE_REFUSED, ReferralRules, refuse_pyramid_terms
from jifen.rules._time import FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR, within_supported
from jifen.rules.errors import InvalidRules

SCHEMA_ID = "urn:jifen:schema:rules:1"
MAX_DOCUMENT_CHARS = 1_000_000
MAX_CAMPAIGNS = 200
MAX_KEYS = 10_000
MAX_NOTICE_DAYS = 365

_Int = Annotated[int, Strict()]
# Category and merchant ids become dotted diff paths, so they may not contain dots or whitespace.
# U+0085 is spelled out: it is whitespace to the validator's regex engine, not to JSON Schema's.
_Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^.\s\x85]+$")]
_MultiplierBp = Annotated[_Int, Field(ge=0, le=100_000)]
# A time with a UTC offset inside the supported years, kept as written (members read a campaign
# in the offset the operator chose); naive, unconvertible or out-of-range times are refused.
_Instant = Annotated[datetime, AfterValidator(within_supported)]
_YEARS = f"{FIRST_SUPPORTED_YEAR}–{LAST_SUPPORTED_YEAR} UTC"


def _keys_by_pattern(schema: dict[str, Any]) -> None:
    """Say in the schema that *every* key must match (pydantic writes ``patternProperties``,
    which lets a key that does not match through as an unconstrained extra property)."""
    patterns = schema.pop("patternProperties", None)
    if patterns:
        [(pattern, values)] = patterns.items()
        schema.setdefault("propertyNames", {})["pattern"] = pattern
        schema["additionalProperties"] = values


class PointValue(_Frozen):
    """What one point is worth when redeemed. A whole number of fen per point keeps every reserve
    movement exact (points × fen_per_point is always an integer number of fen)."""

    fen_per_point: _Int = Field(
        default=1,
        ge=1,
        le=100,
        description="每积分价值（分）/ Value of one point, fen",
    )


class IssuePrice(_Frozen):
    """What an issuing merchant pays per 1000 points: the value (to the reserve) plus the margin."""

    fen_per_1000_points: _Int = Field(
        default=1200,
        ge=1,
        le=1_000_000,
        description="每千积分发行价（分）/ Issue price per 1000 points, in fen",
    )


class Campaign(_Frozen):
    """A time-boxed earn multiplier; the window is half-open, [starts_at, ends_at)."""

    name: str = Field(min_length=1, max_length=100, description="活动名称 / Campaign name")
    starts_at: _Instant = Field(
        description=f"开始时间（含，带时区）/ Starts at (inclusive), with a UTC offset, {_YEARS}"
    )
    ends_at: _Instant = Field(
        description=f"结束时间（不含，带时区）/ Ends at (exclusive), with a UTC offset, {_YEARS}"
    )
    multiplier_bp: _Int = Field(
        ge=10_000, le=100_000, description="活动倍数（基点）/ Campaign multiplier, bp (10000 = 1×)"
    )
    categories: list[_Key] = Field(
        default_factory=list,
        max_length=MAX_KEYS,
        description="适用品类，空=全部 / Categories it applies to; empty = all",
    )
    merchants: list[_Key] = Field(
        default_factory=list,
        max_length=MAX_KEYS,
        description="适用商户，空=全部 / Merchants it applies to; empty = all",
    )

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and ends_at <= starts_at:
            raise ValueError("结束须晚于开始 / ends_at must be after starts_at")
        return ends_at


class EarnRules(_Frozen):
    """How many points an order earns. Earn terms are prospective: changes need notice only."""

    points_per_yuan: _Int = Field(
        default=1, ge=0, le=100, description="每元积分 / Base points per yuan spent"
    )
    min_spend_fen: _Int = Field(
        default=0, ge=0, description="起积金额（分）/ Minimum order amount that earns, in fen"
    )
    max_points_per_order: _Int | None = Field(
        default=None, ge=1, description="每单上限 / Cap on points per order"
    )
    max_points_per_member_per_day: _Int | None = Field(
        default=None, ge=1, description="每人每日上限 / Cap on points per member per day"
    )
    category_multipliers_bp: dict[_Key, _MultiplierBp] = Field(
        default_factory=dict,
        max_length=MAX_KEYS,
        json_schema_extra=_keys_by_pattern,
        description="品类倍数（基点）/ Per-category multiplier, bp (10000 = 1×)",
    )
    merchant_multipliers_bp: dict[_Key, _MultiplierBp] = Field(
        default_factory=dict,
        max_length=MAX_KEYS,
        json_schema_extra=_keys_by_pattern,
        description="商户倍数（基点，优先于品类）/ Per-merchant multiplier, bp; beats category",
    )
    campaigns: list[Campaign] = Field(
        default_factory=list, max_length=MAX_CAMPAIGNS, description="限时活动 / Campaigns"
    )


class PendingRules(_Frozen):
    """New points stay pending until the order's return window has passed."""

    return_window_days: _Int = Field(
        default=7,
        ge=0,
        le=90,
        description="退货期（天）/ Return window before release, days",
    )


class ExpiryRules(_Frozen):
    """When released points expire (see ``expires_at`` for the exact instants)."""

    policy: Literal["rolling", "fixed_month_end", "none"] = Field(
        default="rolling",
        description="过期方式：滚动/固定月末/不过期 / Expiry: rolling, fixed month end, or none",
    )
    months: _Int = Field(default=12, ge=1, le=120, description="有效月数 / Months of validity")
    month_of_year: _Int | None = Field(
        default=None,
        ge=1,
        le=12,
        validate_default=True,
        description="固定月末的月份 / Month whose last day ends validity (fixed_month_end only)",
    )

    @field_validator("month_of_year")
    @classmethod
    def _month_iff_fixed(cls, month_of_year: int | None, info: ValidationInfo) -> int | None:
        policy = info.data.get("policy")
        if policy == "fixed_month_end" and month_of_year is None:
            raise ValueError("固定月末须指定月份 / required when policy is fixed_month_end")
        if policy in ("rolling", "none") and month_of_year is not None:
            raise ValueError("仅固定月末可指定月份 / only allowed when policy is fixed_month_end")
        return month_of_year


class RedemptionRules(_Frozen):
    """Limits on spending points. Tightening any of them is a new condition on issued points."""

    min_points: _Int = Field(
        default=100, ge=1, description="最少使用积分 / Minimum points per redemption"
    )
    max_order_share_bp: _Int = Field(
        default=10_000,
        ge=1,
        le=10_000,
        description="积分抵扣订单上限（基点）/ Max share of an order payable with points, bp",
    )
    excluded_categories: list[_Key] = Field(
        default_factory=list,
        max_length=MAX_KEYS,
        description="不可用积分的品类 / Merchant categories where points cannot be spent",
    )


class RefundRules(_Frozen):
    """What a refund does to points already spent (docs/merchants-and-orders.md, refunds)."""

    shortfall: Literal["deduct_from_refund", "record_debt"] = Field(
        default="deduct_from_refund",
        description="已用积分：退款扣除/记欠款 / Spent points: deduct from refund or record debt",
    )


class RuleDocument(_Frozen):
    """One version's complete terms. ``RuleDocument()`` is the default, valid rule set.

    Checked beyond this schema: the issue price covers the value (fen_per_1000_points >=
    1000 * fen_per_point); month_of_year is set iff policy is fixed_month_end; a campaign ends after
    it starts; campaign times carry a UTC offset and lie in the supported years (2000–2199 UTC).
    """

    alliance: str = Field(
        default="jifen", min_length=1, max_length=100, description="联盟 / Alliance name"
    )
    title_zh: str = Field(default="", max_length=200, description="中文标题 / Chinese title")
    title_en: str = Field(default="", max_length=200, description="英文标题 / English title")
    notice_days: _Int = Field(
        default=30,
        ge=7,
        le=MAX_NOTICE_DAYS,
        description="后续变更须提前公示天数 / Days of notice future changes must give",
    )
    point_value: PointValue = Field(default_factory=PointValue)
    issue_price: IssuePrice = Field(default_factory=IssuePrice, validate_default=True)
    earn: EarnRules = Field(default_factory=EarnRules)
    pending: PendingRules = Field(default_factory=PendingRules)
    expiry: ExpiryRules = Field(default_factory=ExpiryRules)
    redemption: RedemptionRules = Field(default_factory=RedemptionRules)
    refund: RefundRules = Field(default_factory=RefundRules)
    referral: ReferralRules = Field(default_factory=ReferralRules)

    @model_validator(mode="before")
    @classmethod
    def _no_pyramid_terms(cls, data: Any) -> Any:
        # Before anything else: an entry fee, headcount pay, a territory or a third level is
        # refused with its compliance finding wherever an operator puts it (docs/rules.md).
        return refuse_pyramid_terms(data, cls.__name__, sections=True)

    @field_validator("issue_price")
    @classmethod
    def _price_covers_value(cls, issue_price: IssuePrice, info: ValidationInfo) -> IssuePrice:
        # The value part of the issue price funds the reserve; a price below value would leave
        # issued points under-reserved from the first day (brief §4 invariant).
        point_value = info.data.get("point_value")
        if (
            isinstance(point_value, PointValue)
            and issue_price.fen_per_1000_points < point_value.fen_per_point * 1000
        ):
            raise ValueError(
                "发行价低于积分价值 / issue price must cover point value: "
                f"{issue_price.fen_per_1000_points} < {point_value.fen_per_point * 1000} "
                "fen per 1000 points"
            )
        return issue_price

    def with_changes(self, **changes: Any) -> Self:
        """A validated copy with top-level or dotted-path fields replaced (tests and tools).

        ``doc.with_changes(**{"earn.points_per_yuan": 2})``; goes through full validation, unlike
        ``model_copy(update=...)``.
        """
        data = self.model_dump(mode="json")
        for path, value in changes.items():
            *parents, leaf = path.split(".")
            node = data
            for part in parents:
                node = node[part]
            node[leaf] = value
        return self.model_validate(data)


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema operators validate documents against (written to docs/rules.schema.json)."""
    schema = RuleDocument.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Jifen rule document / 积分规则文档",
    }


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
    """``SafeLoader`` that refuses duplicate keys, which YAML would otherwise let the last one win:
    a repeated ``points_per_yuan`` must not silently override the first."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<: *base`` merges; explicit keys may override merged ones
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(document)"


def parse_mapping(text: str, what: str = "规则文档 / document") -> dict[str, Any]:
    """YAML or JSON text → a mapping, or ``InvalidRules`` naming where it fails to parse.

    JSON is YAML, so one parser (``SafeLoader``: no object construction) serves both; duplicate keys
    are refused. Shared by rule documents and the linter's scheme descriptions.
    """
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InvalidRules(
            f"{what}过大 / too large: over {MAX_DOCUMENT_CHARS} characters",
            errors=[{"path": "(document)", "message": "too large"}],
        )
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        detail = " ".join(str(getattr(exc, "problem", None) or exc).split())
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            detail += f" (line {mark.line + 1}, column {mark.column + 1})"
        raise InvalidRules(
            f"无法解析 / cannot parse: {detail}",
            errors=[{"path": "(document)", "message": detail}],
        ) from exc
    if not isinstance(data, dict):
        got = "nothing" if data is None else type(data).__name__
        raise InvalidRules(
            f"{what}须为映射 / must be a mapping, got {got}",
            errors=[{"path": "(document)", "message": "not a mapping"}],
        )
    return data


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as ``{path, message}`` with dotted paths, for problem details; a term
    refused for compliance also carries its ``finding`` id (``PYR-1``) and the ``term`` as written
    (``entry_fee_fen: 100``)."""
    errors = []
    for e in exc.errors():
        error = {"path": _path(e["loc"]), "message": e["msg"].removeprefix("Value error, ")}
        if e["type"] == COMPLIANCE_REFUSED:
            context = e.get("ctx", {})
            error["finding"] = str(context.get("finding", ""))
            error["term"] = str(context.get("term", ""))
        errors.append(error)
    return errors


def load_document(text: str) -> RuleDocument:
    """Parse YAML or JSON text into a validated document, or raise ``InvalidRules``.

    The message names the first bad field; ``context["errors"]`` lists them all as
    ``{path, message}`` (plus ``finding`` for a term refused for compliance, whose message then
    starts with the finding's id).
    """
    data = parse_mapping(text)
    try:
        return RuleDocument.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidRules(
            f"规则无效 / invalid rules: {first['path']}: {first['message']}{more}",
            errors=errors,
        ) from exc
