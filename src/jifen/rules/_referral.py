"""The referral terms of a rule document (brief §8; compliance PYR-1..3, PYR-8).

Rewards are only ever a share of real purchases: of a referred member's paid order amount (the
direct referrer, and at depth 2 the referrer's referrer) or of a recruited merchant's order flow
for a limited number of months. Shares are basis points of the order amount; caps are fen per
promoter per calendar month. There is deliberately no field for a reward per recruit, an entry
fee or a territory: the document cannot say them, and a document that tries (``REFUSED_TERMS``,
or a depth of 3 or more) is refused with the compliance finding's id (PYR-1, PYR-2, PYR-3,
PYR-8) rather than a bare "unknown key". The ids are plain strings here: their texts live in
``jifen.compliance.catalog``, a layer above this one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from jifen.rules._frozen import Frozen

_Int = Annotated[int, Strict()]
MAX_DEPTH = 2
"""Referral rewards reach at most two levels (the referrer and the referrer's referrer)."""
MAX_SHARE_BP = 3_000
"""No share above 30% of an order (直销管理条例 art 24's ceiling on a seller's own sales)."""


# -- what the document refuses to say, and which compliance finding says why -------------------


@dataclass(frozen=True)
class _Refusal:
    finding: str
    zh: str
    en: str


_ENTRY_FEE = _Refusal(
    "PYR-1",
    "积分联盟不收取任何入会费、会员费，也不以购买作为获得奖励资格的条件（入门费）",
    "no fee, and no purchase, may buy the right to join or to earn rewards (entry fee)",
)
_HEADCOUNT = _Refusal(
    "PYR-2",
    "奖励只能按真实消费分成，不能按发展人数或注册计算（拉人头）",
    "rewards are shares of real purchases, never paid per recruit or sign-up (headcount pay)",
)
_TERRITORY = _Refusal(
    "PYR-8",
    "区域或代理费只有已备案的特许经营才可收取，积分联盟不是特许经营",
    "a territory or agent fee is lawful only in a filed franchise, which an alliance is not",
)
_TOO_DEEP = _Refusal(
    "PYR-3",
    f"推荐奖励最多 {MAX_DEPTH} 级（团队计酬）",
    f"referral rewards reach at most {MAX_DEPTH} levels (team pay)",
)
REFUSED_TERMS: dict[str, tuple[_Refusal, ...]] = {
    **dict.fromkeys(
        (
            "entry_fee_fen",
            "join_fee_fen",
            "membership_fee_fen",
            "purchase_unlocks_commission",
            "paid_tier_unlocks_commission",
        ),
        (_ENTRY_FEE,),
    ),
    **dict.fromkeys(
        (
            "reward_per_recruit_fen",
            "signup_bonus_fen",
            "per_recruit_bp",
            "recruit_count_bonus",
            "reward_references_recruit_count",
        ),
        (_HEADCOUNT,),
    ),
    **dict.fromkeys(
        ("territory_fee_fen", "agent_fee_fen", "region_fee_fen", "agent_territory_fee_fen"),
        (_ENTRY_FEE, _TERRITORY),
    ),
}
"""Names an operator might give a pyramid term (docs/rules.md lists them): each is refused with
the compliance finding that says why, whatever its value (even 0 or false: the document has no
such term, and the refusal explains why rather than calling it a typo). Any other unknown key stays
a plain schema error."""
DEPTH_KEYS = ("depth", "commission_depth")
"""Where a depth of 3 or more is refused as PYR-3 (``commission_depth``: the scheme linter's
spelling). Any other bad depth (0, a string) is a plain schema error."""
COMPLIANCE_REFUSED = "compliance_refused"
"""The pydantic error type of a refused term; its context carries ``finding`` (the id),
``term`` (the key and its value as JSON, at most 100 characters) and the reason in each
language (``reason_zh``, ``reason_en``: the HTTP API answers in the caller's)."""


def _shown(value: Any) -> str:
    """A value as the operator wrote it (JSON), or its repr when JSON cannot hold it (a date as a
    YAML key, a recursive YAML anchor)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _refusal(loc: tuple[str, ...], value: Any, why: _Refusal) -> InitErrorDetails:
    message = f"{why.finding}：{why.zh} / refused ({why.finding}): {why.en}"
    return InitErrorDetails(
        type=PydanticCustomError(
            COMPLIANCE_REFUSED,
            message,
            {
                "finding": why.finding,
                "term": f"{loc[-1]}: {_shown(value)}"[:100],
                "reason_zh": why.zh,
                "reason_en": why.en,
            },
        ),
        loc=loc,
        input=value,
    )


def _section_refusals(section: Mapping[Any, Any], at: tuple[str, ...]) -> list[InitErrorDetails]:
    found = []
    for key, value in section.items():
        if not isinstance(key, str):
            continue
        for why in REFUSED_TERMS.get(key, ()):
            found.append(_refusal((*at, key), value, why))
        deep = isinstance(value, int) and not isinstance(value, bool) and value > MAX_DEPTH
        if key in DEPTH_KEYS and deep:
            found.append(_refusal((*at, key), value, _TOO_DEEP))
    return found


def refuse_pyramid_terms(data: Any, title: str, *, sections: bool) -> Any:
    """Raise a ``ValidationError`` naming each refused term of ``data`` with its finding, or
    return ``data`` unchanged. ``sections``: also look one level down, into every mapping under a
    top-level key (``referral``, ``membership``, ``earn``, an agent section…), which is where an
    operator would put such a term; deeper maps hold ids (categories, merchants), not terms.

    A refused term is reported alone, before the rest of the document is validated: the rest is
    worth checking only once the scheme itself is lawful."""
    if not isinstance(data, Mapping):
        return data
    found = _section_refusals(data, ())
    if sections:
        for key, value in data.items():
            if isinstance(key, str) and isinstance(value, Mapping):
                found += _section_refusals(value, (key,))
    if found:
        raise ValidationError.from_exception_data(title, found)
    return data


class ReferralRules(Frozen):
    """Who earns what share of which purchases. All zero (the default) = no referral rewards."""

    depth: _Int = Field(
        default=1,
        ge=1,
        le=MAX_DEPTH,
        description="推荐奖励层级（1 或 2）/ Levels of referrers rewarded (1 or 2)",
    )
    direct_bp: _Int = Field(
        default=0,
        ge=0,
        le=MAX_SHARE_BP,
        description="直接推荐人分成（实付金额基点）/ Direct referrer's share of the paid order, bp",
    )
    indirect_bp: _Int = Field(
        default=0,
        ge=0,
        le=MAX_SHARE_BP,
        description="间接推荐人分成（基点，仅层级2）/ Referrer's referrer's share, bp (depth 2)",
    )
    recruiter_bp: _Int = Field(
        default=0,
        ge=0,
        le=MAX_SHARE_BP,
        description="商户招募人分成（订单流水基点）/ Recruiter's share of a merchant's orders, bp",
    )
    recruiter_months: _Int = Field(
        default=12,
        ge=1,
        le=36,
        description="招募人分成月数 / Months a recruiter shares a merchant's orders",
    )
    monthly_cap_fen: _Int | None = Field(
        default=None,
        ge=1,
        description="每人每月奖励上限（分）/ Cap on one promoter's rewards per month, fen",
    )
    funded_by: Literal["operator_revenue"] = Field(
        default="operator_revenue",
        description="奖励资金来源：运营方收入，不动用积分备付金 / "
        "Paid from the operator's revenue, never the points reserve",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_pyramid_terms(cls, data: Any) -> Any:
        return refuse_pyramid_terms(data, cls.__name__, sections=False)

    @field_validator("indirect_bp")
    @classmethod
    def _indirect_only_at_depth_2(cls, indirect_bp: int, info: ValidationInfo) -> int:
        # A share nobody can earn is a mistake (depth lowered, share forgotten), and a member
        # reading the plain-words rules would be promised it: refused, not silently ignored.
        if indirect_bp and info.data.get("depth", MAX_DEPTH) < MAX_DEPTH:
            raise ValueError("间接推荐人分成仅在层级为 2 时可设置 / must be 0 unless depth is 2")
        return indirect_bp
