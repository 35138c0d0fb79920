"""Split instructions (分账): planned when a payment is applied, sent when their moment comes,
followed until the provider has finished them, and booked when money has arrived.

One instruction per moment of the plan (``paid``, ``shipped``, ``received``, ``released``), each
with its lines (a receiver and an amount), numbered ``{out_trade_no}-{moment}`` so that sending
it again is the same request at the provider (payments.md §1.4). The issue charge's lines (the
reserve, the operator's fee) are part of the ``paid`` instruction; when the provider reports
them ``SUCCESS``, a ``Collect`` entry books the money at the receivers. A ``CLOSED`` line's money
went back to the merchant: its charge stays owed and the daily settlement nets it.

The remainder goes to the merchant (``unfreeze_unsplit``) with the last instruction; when the
plan has later moments, a final ``unfreeze`` instruction releases it once they are all done.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, select, update

from jifen.alliance.orders import get_order, issue_charge_fen
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.funds.accounts import plan_version, provider_account, receivers
from jifen.funds.config import RETRY_AFTER, Funds
from jifen.funds.records import Payment, SplitOrder, get_payment, split_orders
from jifen.ledger import Collect
from jifen.payments import (
    FEE_RECEIVER,
    RESERVE_RECEIVER,
    Allocation,
    Condition,
    PlanOverRatio,
    ProviderRefused,
    ProviderUnavailable,
    Receiver,
    ReceiverType,
    SplitPlan,
    SplitReceiver,
    SplitRequest,
    SplitResult,
    allocate,
)
from jifen.store import tables as t

log = logging.getLogger("jifen.funds")
UNFREEZE = "unfreeze"
OPEN_STATES = ("due", "processing", "waiting")


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
    for candidate, charge in (
        (plan, (reserve, fee)),
        (SplitPlan(max_ratio_bp=plan.max_ratio_bp), (reserve, fee)),
    ):
        try:
            return allocate(amount, candidate, reserve_fen=charge[0], fee_fen=charge[1])
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


# -- sending and following ------------------------------------------------------------------------


def _due(conn: Connection, now: datetime) -> list[SplitOrder]:
    numbers = (
        conn.execute(
            select(t.split_orders.c.out_order_no)
            .where(t.split_orders.c.state == "due", t.split_orders.c.due_at <= now)
            .order_by(t.split_orders.c.due_at)
            .limit(500)
        )
        .scalars()
        .all()
    )
    return split_orders(conn, out_order_nos=list(numbers)) if numbers else []


def send_due(ctx: Context, funds: Funds) -> int:
    """Send every instruction whose moment has come. The provider not answering, or answering
    that the payment is still settling, leaves it due a little later; another refusal leaves it
    ``refused`` with the provider's word, for the operator."""
    now = ctx.clock.now()
    with ctx.engine.connect() as conn:
        due = _due(conn, now)
    sent = 0
    for order in due:
        payment = get_payment(ctx, order.out_trade_no)
        linked = provider_account(ctx, order.merchant_id)
        assert linked is not None and payment.transaction_id is not None
        try:
            result = _send(funds, order, payment.transaction_id, linked.account)
        except ProviderUnavailable as exc:
            _retry(ctx, order, str(exc), now)
            break  # the provider is down: the rest waits for the next pass
        except ProviderRefused as exc:
            if order.condition == UNFREEZE and exc.context.get("provider_code") == "NOT_ENOUGH":
                _set(ctx, order, state="finished", last_error=None)  # nothing was left to release
            elif "处理中" in str(exc) or exc.context.get("provider_code") == "FREQUENCY_LIMITED":
                _retry(ctx, order, str(exc), now)
            else:
                _set(ctx, order, state="refused", last_error=str(exc))
            continue
        record_result(ctx, order.out_order_no, result)
        sent += 1
    return sent


def _send(funds: Funds, order: SplitOrder, transaction_id: str, account: str) -> SplitResult:
    if order.condition == UNFREEZE:
        return funds.provider.unfreeze(
            transaction_id, order.out_order_no, "解冻剩余资金 / release the remainder", account
        )
    return funds.provider.split(
        SplitRequest(
            merchant=account,
            transaction_id=transaction_id,
            out_order_no=order.out_order_no,
            receivers=tuple(
                SplitReceiver(
                    Receiver(ReceiverType(line.type), line.account),
                    line.fen,
                    _DESCRIPTIONS.get(line.receiver, line.receiver),
                )
                for line in order.lines
            ),
            unfreeze_unsplit=order.unfreeze,
        )
    )


_DESCRIPTIONS = {RESERVE_RECEIVER: "积分准备金 points reserve", FEE_RECEIVER: "平台服务费 fee"}


def _retry(ctx: Context, order: SplitOrder, error: str, now: datetime) -> None:
    _set(
        ctx,
        order,
        state="due",
        due_at=now + RETRY_AFTER,
        last_error=error,
        attempts=order.attempts + 1,
    )


def _set(ctx: Context, order: SplitOrder, **values: object) -> None:
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.split_orders)
            .where(t.split_orders.c.out_order_no == order.out_order_no)
            .values(updated_at=ctx.clock.now(), **values)
        )


def refresh(ctx: Context, funds: Funds) -> int:
    """Ask the provider how the instructions it is processing ended."""
    with ctx.engine.connect() as conn:
        numbers = (
            conn.execute(
                select(t.split_orders.c.out_order_no).where(t.split_orders.c.state == "processing")
            )
            .scalars()
            .all()
        )
        processing = split_orders(conn, out_order_nos=list(numbers)) if numbers else []
    done = 0
    for order in processing:
        payment = get_payment(ctx, order.out_trade_no)
        linked = provider_account(ctx, order.merchant_id)
        assert linked is not None and payment.transaction_id is not None
        try:
            result = funds.provider.query_split(
                payment.transaction_id, order.out_order_no, linked.account
            )
        except ProviderUnavailable:
            break
        except ProviderRefused as exc:
            log.warning("a split query was refused", extra={"code": exc.code})
            continue
        done += record_result(ctx, order.out_order_no, result)
    return done


def record_result(ctx: Context, out_order_no: str, result: SplitResult) -> int:
    """Book what the provider says of an instruction: its lines' results; once it is finished,
    the charge's money at the receivers (``Collect``) and, after the last moment, the release
    of the remainder. One transaction; applying the same result again changes nothing."""

    def work(tx: Connection) -> int:
        (order,) = split_orders(tx, out_order_nos=[out_order_no])
        if order.state in ("finished", "cancelled"):
            return 0
        by_account = {r.account: r for r in result.receivers}
        now = ctx.clock.now()
        for line in order.lines:
            found = by_account.get(line.account)
            if found is None or found.result == line.result:
                continue
            tx.execute(
                update(t.split_lines)
                .where(t.split_lines.c.out_order_no == out_order_no)
                .where(t.split_lines.c.receiver == line.receiver)
                .values(
                    result=found.result,
                    fail_reason=found.fail_reason,
                    detail_id=found.detail_id,
                    finished_at=now if found.result != "PENDING" else None,
                )
            )
        finished = result.state == "FINISHED"
        tx.execute(
            update(t.split_orders)
            .where(t.split_orders.c.out_order_no == out_order_no)
            .values(
                state="finished" if finished else "processing",
                order_id=result.order_id,
                updated_at=now,
                last_error=None,
            )
        )
        if finished:
            _book(ctx, tx, out_order_no)
        return int(finished)

    return ctx.atomic(None, work)


def _book(ctx: Context, tx: Connection, out_order_no: str) -> None:
    (order,) = split_orders(tx, out_order_nos=[out_order_no])
    got = {line.receiver: line.fen for line in order.lines if line.result == "SUCCESS"}
    reserve, fee = got.get(RESERVE_RECEIVER, 0), got.get(FEE_RECEIVER, 0)
    payment = get_payment(ctx, order.out_trade_no, conn=tx)
    if reserve or fee:
        ctx.ledger.submit(
            Collect(
                key=f"collect:{out_order_no}",
                merchant_id=order.merchant_id,
                reserve_fen=reserve,
                fee_fen=fee,
                reference=f"{payment.transaction_id}/{out_order_no}",
            ),
            ctx.clock.now(),
            conn=tx,
        )
    siblings = split_orders(tx, out_trade_no=order.out_trade_no)
    if any(s.state in OPEN_STATES for s in siblings) or any(
        s.unfreeze and s.state == "finished" for s in siblings
    ):
        return
    tx.execute(
        t.split_orders.insert().values(
            _order_row(
                f"{order.out_trade_no}-{UNFREEZE}",
                payment,
                UNFREEZE,
                "due",
                ctx.clock.now(),
                True,
                ctx.clock.now(),
            )
        )
    )


def fulfil(ctx: Context, merchant_id: str, out_trade_no: str, condition: Condition) -> int:
    """The merchant says the order was shipped or received: its parts of that moment are due."""
    get_payment(ctx, out_trade_no, merchant_id=merchant_id)
    with ctx.writer.begin() as conn:
        return conn.execute(
            update(t.split_orders)
            .where(t.split_orders.c.out_trade_no == out_trade_no)
            .where(t.split_orders.c.condition == condition.value)
            .where(t.split_orders.c.state == "waiting")
            .values(state="due", due_at=ctx.clock.now(), updated_at=ctx.clock.now())
        ).rowcount
