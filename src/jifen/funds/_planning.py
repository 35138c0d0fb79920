"""Planning a paid order's split instructions (see ``jifen.funds.splits``): the allocation of
the merchant's plan plus the issue charge, one instruction per moment, their lines."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection

from jifen.alliance.orders import get_order, issue_charge_fen
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.funds.accounts import plan_version, provider_account, receivers
from jifen.funds.config import Funds
from jifen.funds.records import Payment
from jifen.payments import (
    FEE_RECEIVER,
    RESERVE_RECEIVER,
    Allocation,
    Condition,
    PlanOverRatio,
    ReceiverType,
    SplitPlan,
    allocate,
)
from jifen.store import tables as t

log = logging.getLogger("jifen.funds")
UNFREEZE = "unfreeze"


def charge_parts(
    ctx: Context, points: int, rule_version: int | None, conn: Connection
) -> tuple[int, int]:
    """(reserve fen, fee fen) of an order's issue charge, exactly as its earn entry charged it."""
    if not points or rule_version is None:
        return 0, 0
    doc = ctx.rulebook.get(rule_version, conn=conn).document
    charge = issue_charge_fen(points, doc.issue_price.fen_per_1000_points)
    reserve = points * doc.point_value.fen_per_point
    return reserve, max(0, charge - reserve)


def _allocate(amount: int, plan: SplitPlan, reserve: int, fee: int) -> Allocation:
    """The plan's allocation; if the charge and the plan together pass the provider's cap, the
    charge alone (the plan's parts wait for a corrected plan); if even that passes it, nothing
    is split and the charge is netted in the daily settlement."""
    for candidate in (plan, SplitPlan(max_ratio_bp=plan.max_ratio_bp)):
        try:
            return allocate(amount, candidate, reserve_fen=reserve, fee_fen=fee)
        except PlanOverRatio:
            log.warning("a split plan over the provider's cap was cut back")
    return Allocation(amount, (), amount)


def plan_splits(
    ctx: Context,
    funds: Funds,
    payment: Payment,
    points: int,
    rule_version: int | None,
    tx: Connection,
) -> None:
    """The instructions of a payment just applied, in its transaction ``tx``."""
    p = payment
    linked = provider_account(ctx, p.merchant_id, conn=tx)
    assert linked is not None
    filed = plan_version(ctx, p.merchant_id, p.plan_version, conn=tx) if p.plan_version else None
    plan = filed.plan if filed else SplitPlan(max_ratio_bp=linked.max_ratio_bp)
    reserve, fee = charge_parts(ctx, points, rule_version, tx)
    allocation = _allocate(p.amount_fen, plan, reserve, fee)
    known = receivers(ctx, p.merchant_id, conn=tx)
    accounts = {
        RESERVE_RECEIVER: (ReceiverType.MERCHANT.value, funds.reserve_account),
        FEE_RECEIVER: (ReceiverType.MERCHANT.value, funds.fee_account),
        **{name: (r.type, r.account) for name, r in known.items()},
    }
    groups = allocation.by_condition()
    later = [c for c in groups if c is not Condition.PAID]
    now = ctx.clock.now()
    assert p.paid_at is not None
    paid_at = p.paid_at
    orders, lines = [], []
    for condition, parts in groups.items():
        out_order_no = f"{p.out_trade_no}-{condition.value}"
        due_at = paid_at + funds.settle_delay if condition is Condition.PAID else None
        if condition is Condition.RELEASED:
            due_at = max(paid_at + funds.settle_delay, _release_at(ctx, p, tx) or paid_at)
        state = "due" if due_at is not None else "waiting"
        orders.append(_order_row(out_order_no, p, condition.value, state, due_at, not later, now))
        merged: dict[str, int] = {}
        for part in parts:
            merged[part.receiver] = merged.get(part.receiver, 0) + part.fen
        for receiver, fen in merged.items():
            type_, account = accounts[receiver]
            lines.append(
                {
                    "out_order_no": out_order_no,
                    "receiver": receiver,
                    "account": account,
                    "type": type_,
                    "fen": fen,
                    "result": "PLANNED",
                    "fail_reason": None,
                    "detail_id": None,
                    "finished_at": None,
                }
            )
    if not groups:  # nothing to split: the whole amount is the merchant's
        orders.append(
            _order_row(
                f"{p.out_trade_no}-{UNFREEZE}",
                p,
                UNFREEZE,
                "due",
                paid_at + funds.settle_delay,
                True,
                now,
            )
        )
    if orders:
        tx.execute(t.split_orders.insert(), orders)
    if lines:
        tx.execute(t.split_lines.insert(), lines)


def _release_at(ctx: Context, payment: Payment, tx: Connection) -> datetime | None:
    try:
        return get_order(ctx, payment.merchant_id, payment.order_ref, conn=tx).release_at
    except JifenError:
        return None


def _order_row(
    out_order_no: str,
    p: Payment,
    condition: str,
    state: str,
    due_at: datetime | None,
    unfreeze: bool,
    now: datetime,
) -> dict[str, object]:
    return {
        "out_order_no": out_order_no,
        "out_trade_no": p.out_trade_no,
        "merchant_id": p.merchant_id,
        "condition": condition,
        "state": state,
        "due_at": due_at,
        "unfreeze": int(unfreeze),
        "order_id": None,
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }
