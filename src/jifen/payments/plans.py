"""Split plans (分账方案): who receives which part of a merchant's paid order, and when. Pure.

A merchant files a plan before it is used (versioned, like rules). Each part names a receiver
registered with the provider beforehand, a share (basis points of the order amount, or a fixed
amount in fen) and the moment it is split: at payment (once the provider has settled it), on
shipment, on receipt, or when the order's return window ends. Jifen adds two parts of its own to
every paid order that earns points: the **issue charge** (brief §4), its value to the points
reserve's receiver and the margin to the operator's fee receiver, split at payment.

Rounding, named: every ratio part is ROUND_DOWN to the fen; fixed parts are exact; the merchant
keeps the remainder (``REMAINDER_TO_MERCHANT``), so the parts and the merchant's share always sum
to the order amount exactly, and nobody but the merchant ever gets a fen the plan did not give.

Provider limits (payments.md §1.3) are checked before anything is sent: all parts to others,
over every condition, at most ``max_ratio_bp`` of the order (default 30 %), at most 50 receivers
in one request.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from jifen.errors import InvalidRequest
from jifen.payments.errors import PlanOverRatio, PlanTooManyReceivers

BP = 10_000
DEFAULT_MAX_RATIO_BP = 3_000  # WeChat Pay's default cap: 30 % of the order to others
MAX_RECEIVERS_PER_REQUEST = 50
MAX_PARTS = 48  # 50 receivers less the reserve and the fee, so one request can carry them all
REMAINDER_TO_MERCHANT = "remainder_to_merchant"
RESERVE_RECEIVER = "reserve"
FEE_RECEIVER = "operator_fee"

_Int = Annotated[int, Strict()]
_Receiver = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class Condition(enum.StrEnum):
    PAID = "paid"  # as soon as the provider allows a split after payment
    SHIPPED = "shipped"
    RECEIVED = "received"
    RELEASED = "released"  # when the order's return window ends


class PlanPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    receiver: _Receiver = Field(
        description="分账接收方（须事先登记）/ a receiver registered before"
    )
    ratio_bp: _Int | None = Field(default=None, ge=1, le=BP, description="订单金额的基点 / bp")
    fixed_fen: _Int | None = Field(default=None, ge=1, description="固定金额（分）/ fixed, fen")
    when: Condition = Condition.PAID
    description: str = Field(default="", max_length=80)

    @model_validator(mode="after")
    def _one_share(self) -> PlanPart:
        if (self.ratio_bp is None) == (self.fixed_fen is None):
            raise ValueError(
                "一个分账部分须为比例或固定金额之一 / a part is a ratio or a fixed amount"
            )
        if self.receiver in (RESERVE_RECEIVER, FEE_RECEIVER):
            raise ValueError("准备金与平台服务费由系统分账 / reserve and fee parts are Jifen's own")
        return self


class SplitPlan(BaseModel):
    """A merchant's plan; an empty plan is valid (the merchant keeps everything but the charge)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parts: tuple[PlanPart, ...] = Field(default=(), max_length=MAX_PARTS)
    max_ratio_bp: _Int = Field(
        default=DEFAULT_MAX_RATIO_BP,
        ge=0,
        le=BP,
        description="服务商授予的最大分账比例 / the provider's cap for this merchant, bp",
    )

    @model_validator(mode="after")
    def _ratios_within_the_cap(self) -> SplitPlan:
        ratios = sum(p.ratio_bp or 0 for p in self.parts)
        if ratios > self.max_ratio_bp:
            raise ValueError(
                f"比例部分合计 {ratios} bp 超过最大分账比例 {self.max_ratio_bp} bp / ratio parts "
                f"total {ratios} bp, over the provider's cap of {self.max_ratio_bp} bp"
            )
        return self


@dataclass(frozen=True, slots=True)
class Part:
    """One instruction-to-be: ``fen`` to ``receiver`` when ``when`` happens."""

    receiver: str
    fen: int
    when: Condition
    description: str = ""


@dataclass(frozen=True, slots=True)
class Allocation:
    amount_fen: int
    parts: tuple[Part, ...]  # to others, in plan order: reserve, fee, then the plan's parts
    merchant_fen: int  # what stays with the merchant: REMAINDER_TO_MERCHANT

    def by_condition(self) -> dict[Condition, list[Part]]:
        grouped: dict[Condition, list[Part]] = defaultdict(list)
        for part in self.parts:
            grouped[part.when].append(part)
        return dict(grouped)


def allocate(amount_fen: int, plan: SplitPlan, *, reserve_fen: int, fee_fen: int) -> Allocation:
    """Split ``amount_fen`` by ``plan`` plus the issue charge (``reserve_fen`` to the reserve,
    ``fee_fen`` to the operator), refusing what the provider would refuse."""
    if amount_fen <= 0 or reserve_fen < 0 or fee_fen < 0:
        raise InvalidRequest("金额须为正整数分 / amounts are positive whole fen")
    parts = [
        Part(RESERVE_RECEIVER, reserve_fen, Condition.PAID, "积分准备金 points reserve"),
        Part(FEE_RECEIVER, fee_fen, Condition.PAID, "平台服务费 operator fee"),
    ]
    for p in plan.parts:
        fen = amount_fen * p.ratio_bp // BP if p.ratio_bp is not None else p.fixed_fen
        assert fen is not None
        parts.append(Part(p.receiver, fen, p.when, p.description))
    parts = [p for p in parts if p.fen > 0]
    to_others = sum(p.fen for p in parts)
    cap = amount_fen * plan.max_ratio_bp // BP
    if to_others > cap:
        raise PlanOverRatio(
            f"分账合计 {to_others} 分超过订单的最大分账额 {cap} 分 / the parts total {to_others} "
            f"fen, over the order's cap of {cap} fen ({plan.max_ratio_bp} bp of {amount_fen})",
            parts_fen=to_others,
            cap_fen=cap,
        )
    for when, group in Allocation(amount_fen, tuple(parts), 0).by_condition().items():
        if len({p.receiver for p in group}) > MAX_RECEIVERS_PER_REQUEST:
            raise PlanTooManyReceivers(
                f"{when.value}: 一次最多 {MAX_RECEIVERS_PER_REQUEST} 个接收方 / at most "
                f"{MAX_RECEIVERS_PER_REQUEST} receivers in one split request",
            )
    return Allocation(amount_fen, tuple(parts), amount_fen - to_others)
