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

from jifen.app.context import Context
from jifen.errors import InvalidRequest
from jifen.funds._planning import UNFREEZE, _order_row
from jifen.funds.accounts import provider_account
from jifen.funds.config import RETRY_AFTER, Funds
from jifen.funds.records import SplitOrder, get_payment, split_orders
from jifen.ledger import Collect
from jifen.payments import (
    FEE_RECEIVER,
    RESERVE_RECEIVER,
    Condition,
    ProviderRefused,
    ProviderUnavailable,
    Receiver,
    ReceiverType,
    SplitReceiver,
    SplitRequest,
    SplitResult,
)
from jifen.store import tables as t

log = logging.getLogger("jifen.funds")
OPEN_STATES = ("due", "processing", "waiting")


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
                    finished_at=(found.finished_at or now) if found.result != "PENDING" else None,
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


def fulfil(
    ctx: Context,
    merchant_id: str,
    out_trade_no: str,
    condition: Condition,
    *,
    conn: Connection | None = None,
) -> int:
    """The merchant says the order was shipped or received: its parts of that moment are due.
    Saying it again changes nothing (returns 0)."""
    if condition not in (Condition.SHIPPED, Condition.RECEIVED):
        raise InvalidRequest("只能确认发货或收货 / only shipped or received can be confirmed")

    def work(tx: Connection) -> int:
        get_payment(ctx, out_trade_no, merchant_id=merchant_id, conn=tx)
        return tx.execute(
            update(t.split_orders)
            .where(t.split_orders.c.out_trade_no == out_trade_no)
            .where(t.split_orders.c.condition == condition.value)
            .where(t.split_orders.c.state == "waiting")
            .values(state="due", due_at=ctx.clock.now(), updated_at=ctx.clock.now())
        ).rowcount

    return ctx.atomic(conn, work)
