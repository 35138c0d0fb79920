"""Regression: a whole refund cancels the parts of the plan still to come, ``released`` ones too.

A ``released`` part is planned ``due`` at the end of the return window (not ``waiting`` for an
event like ``shipped``), and a whole refund cancelled only ``waiting`` ones: at the end of the
window the part was sent for an order whose money had all gone back to the customer, and the
provider refused it (``NOT_ENOUGH``), leaving a ``refused`` instruction for the operator on an
order with nothing left to split (found by tests/test_funds_e2e.py). A partial refund keeps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from funds_kit import Money, member, money
from jifen.funds import create_payment, file_plan, refunds_of, register_receiver, request_refund
from jifen.funds.records import split_orders
from jifen.payments import Condition, PlanPart, ReceiverType, SplitPlan
from sandbox_kit import SHOP_A, SHOP_B


@pytest.fixture
def m(db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Money]:
    with money(db_url, tmp_path, tmp_path_factory) as found:
        register_receiver(found.ctx, found.funds, "cafe", name="landlord",
                          type=ReceiverType.MERCHANT, account=SHOP_B,
                          real_name="示例零售连锁有限公司")  # fmt: skip
        parts = (PlanPart(receiver="landlord", fixed_fen=100, when=Condition.RELEASED),)
        file_plan(found.ctx, "cafe", SplitPlan(parts=parts))
        yield found


def _states(m: Money, out_trade_no: str) -> dict[str, str]:
    with m.ctx.engine.connect() as conn:
        return {o.condition: o.state for o in split_orders(conn, out_trade_no=out_trade_no)}


@pytest.mark.parametrize("refund_fen", [10_000, 2_500], ids=["whole", "part"])
def test_a_whole_refund_cancels_the_part_due_when_the_return_window_ends(
    m: Money, refund_fen: int
) -> None:
    ana = member(m.ctx)
    p = create_payment(m.ctx, m.funds, "cafe", order_ref="o-1", member_id=ana,
                       amount_fen=10_000, description="晚餐")  # fmt: skip
    m.pay(p.out_trade_no)
    m.step(65)
    m.step(60)
    assert _states(m, p.out_trade_no) == {"paid": "finished", "released": "due"}
    m.kit.ok(m.kit.control.post(f"/sandbox/merchants/{SHOP_A}/top-up", json={"amount": 1_000}))
    request_refund(m.ctx, "cafe", p.out_trade_no, refund_ref="r-1", refund_fen=refund_fen)
    for _ in range(5):
        m.step(60)
    assert refunds_of(m.ctx, p.out_trade_no)[0].state == "succeeded"
    m.step(8 * 86_400)  # past the return window
    m.step(60)
    states = _states(m, p.out_trade_no)
    if refund_fen == 10_000:
        assert states["released"] == "cancelled", states  # never sent: nothing left to split
        assert m.kit.balances().get(f"{SHOP_B}:AVAILABLE", 0) == 0
    else:
        assert states["released"] == "finished", states  # the rest of the order is split
        assert m.kit.balances()[f"{SHOP_B}:AVAILABLE"] == 100
