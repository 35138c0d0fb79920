"""Split plans, pure (issue 10): for any amount and any valid plan the parts and the merchant's
remainder sum to the amount exactly, none is negative, and what the provider would refuse (over
its maximum ratio, too many receivers) is refused before anything is sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from jifen.payments.errors import PlanOverRatio
from jifen.payments.plans import (
    DEFAULT_MAX_RATIO_BP,
    Condition,
    PlanPart,
    SplitPlan,
    allocate,
)

parts = st.lists(
    st.builds(
        PlanPart,
        receiver=st.sampled_from(["partner", "promoter", "landlord", "brand"]),
        ratio_bp=st.integers(1, 1_000),
        when=st.sampled_from(list(Condition)),
    )
    | st.builds(
        PlanPart,
        receiver=st.sampled_from(["partner", "promoter"]),
        fixed_fen=st.integers(1, 500),
        when=st.sampled_from(list(Condition)),
    ),
    max_size=6,
)


@given(
    amount=st.integers(1, 10**9),
    plan_parts=parts,
    reserve=st.integers(0, 10**6),
    fee=st.integers(0, 10**5),
)
def test_the_parts_and_the_merchants_remainder_sum_to_the_amount_exactly(
    amount: int, plan_parts: list[PlanPart], reserve: int, fee: int
) -> None:
    try:
        plan = SplitPlan(parts=tuple(plan_parts))
    except ValidationError:
        return  # ratio parts over the cap: refused when the plan is filed (tested below)
    try:
        allocation = allocate(amount, plan, reserve_fen=reserve, fee_fen=fee)
    except PlanOverRatio as refused:
        assert refused.context["parts_fen"] > amount * plan.max_ratio_bp // 10_000
        return
    assert sum(p.fen for p in allocation.parts) + allocation.merchant_fen == amount
    assert all(p.fen > 0 for p in allocation.parts) and allocation.merchant_fen >= 0
    assert sum(p.fen for p in allocation.parts) <= amount * DEFAULT_MAX_RATIO_BP // 10_000


@pytest.mark.parametrize(
    ("amount", "ratio_bp", "fixed_fen", "parts", "merchant"),
    [
        # ¥100.03 with a 10 % partner: 1,000.3 fen rounds DOWN to 1,000; the merchant keeps the .3
        (10_003, 1_000, None, {"reserve": 100, "operator_fee": 20, "partner": 1_000}, 8_883),
        (1, 1_000, None, {}, 1),  # 0.1 fen rounds down to nothing: no part of 0 is sent
        (10_000, None, 500, {"reserve": 100, "operator_fee": 20, "partner": 500}, 9_380),
    ],
)
def test_worked_splits_with_the_remainder_to_the_merchant(
    amount: int, ratio_bp: int | None, fixed_fen: int | None, parts: dict[str, int], merchant: int
) -> None:
    plan = SplitPlan(parts=(PlanPart(receiver="partner", ratio_bp=ratio_bp, fixed_fen=fixed_fen),))
    reserve, fee = (100, 20) if amount > 1 else (0, 0)
    allocation = allocate(amount, plan, reserve_fen=reserve, fee_fen=fee)
    assert {p.receiver: p.fen for p in allocation.parts} == parts
    assert allocation.merchant_fen == merchant


def test_a_plan_over_the_providers_maximum_ratio_is_refused() -> None:
    with pytest.raises(ValidationError):
        SplitPlan(parts=(PlanPart(receiver="partner", ratio_bp=3_001),))
    at_cap = SplitPlan(parts=(PlanPart(receiver="partner", ratio_bp=2_900),))
    allocate(10_000, at_cap, reserve_fen=80, fee_fen=20)  # exactly 30 %: allowed
    with pytest.raises(PlanOverRatio):
        allocate(10_000, at_cap, reserve_fen=80, fee_fen=21)  # one fen over
    fixed = SplitPlan(parts=(PlanPart(receiver="partner", fixed_fen=5_000),))
    with pytest.raises(PlanOverRatio):
        allocate(10_000, fixed, reserve_fen=0, fee_fen=0)  # a fixed part can exceed it too


def test_conditional_parts_are_split_when_their_moment_comes() -> None:
    plan = SplitPlan(
        parts=(
            PlanPart(receiver="partner", ratio_bp=500, when=Condition.SHIPPED),
            PlanPart(receiver="partner", ratio_bp=500, when=Condition.RELEASED),
        )
    )
    by = allocate(20_000, plan, reserve_fen=200, fee_fen=40).by_condition()
    assert [(p.receiver, p.fen) for p in by[Condition.PAID]] == [
        ("reserve", 200), ("operator_fee", 40),
    ]  # fmt: skip
    assert [p.fen for p in by[Condition.SHIPPED]] == [1_000]
    assert [p.fen for p in by[Condition.RELEASED]] == [1_000]


def test_the_reserve_and_the_fee_are_jifens_own_parts() -> None:
    with pytest.raises(ValidationError):
        PlanPart(receiver="reserve", ratio_bp=100)
