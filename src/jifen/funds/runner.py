"""The money path's steps in one pass, and what a closed business day adds to it.

Every step is idempotent and reads its work from the store, so a pass interrupted anywhere is
finished by the next; ``jifen serve`` runs a pass on its job schedule, ``jifen funds run`` once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from jifen.app.context import Context
from jifen.funds.alerts import check_day
from jifen.funds.collect import apply_paid, paid_state, poll_unpaid
from jifen.funds.config import Funds
from jifen.funds.payouts import advance_payouts, queue_payouts
from jifen.funds.refunds import advance_refunds
from jifen.funds.splits import record_result, refresh, send_due
from jifen.payments import ProviderUnavailable
from jifen.store import insert_missing
from jifen.store import tables as t

log = logging.getLogger("jifen.funds")


@dataclass(frozen=True)
class MoneyRun:
    applied: int  # payments found paid by query (a lost notification)
    splits_sent: int
    splits_finished: int
    refunds_open: int
    payouts_open: int


def run_money(ctx: Context, funds: Funds) -> MoneyRun:
    """One pass: lost payments, splits in flight, due splits, refunds, payouts.

    The splits in flight are asked about before the due ones are sent: the provider answers an
    instruction a while after it takes it, so asking about one sent a moment ago would only
    cost a call; what finishing makes due (the release of a remainder) is sent in the same pass.
    """
    applied = poll_unpaid(ctx, funds)
    finished = refresh(ctx, funds)
    sent = send_due(ctx, funds)
    return MoneyRun(
        applied, sent, finished, advance_refunds(ctx, funds), advance_payouts(ctx, funds)
    )


def close_money_day(ctx: Context, day: date) -> tuple[int, int]:
    """After ``day`` is settled: (payouts queued, large-value alerts raised)."""
    return queue_payouts(ctx, day), check_day(ctx, day)


def handle_notification(ctx: Context, funds: Funds, headers: Mapping[str, str], body: bytes) -> str:
    """A callback from the provider: verified and decrypted (``NotificationRefused`` if not),
    then applied. Returns what it was about. Duplicates change nothing: a payment is applied
    once per transaction id, a split result once per instruction."""
    note = funds.provider.parse_notification(headers, body)
    resource = note.resource
    if note.event_type == "TRANSACTION.SUCCESS":
        state = paid_state(resource)
        apply_paid(ctx, funds, state)
        reference = state.out_trade_no
    elif note.event_type.startswith("PROFITSHARING."):
        reference = str(resource.get("out_order_no", ""))
        _follow_split(ctx, funds, reference)
    else:  # REFUND.*: the runner follows refunds by query; the callback is kept as a record
        reference = str(resource.get("out_refund_no") or resource.get("out_trade_no") or "")
    with ctx.writer.begin() as conn:
        insert_missing(
            conn,
            t.provider_events,
            [
                {
                    "event_id": note.event_id[:64],
                    "event_type": note.event_type[:48],
                    "reference": reference[:64],
                    "received_at": ctx.clock.now(),
                }
            ],
        )
    return note.event_type


def _follow_split(ctx: Context, funds: Funds, out_order_no: str) -> None:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(t.payments.c.transaction_id, t.provider_accounts.c.account)
            .join(t.split_orders, t.split_orders.c.out_trade_no == t.payments.c.out_trade_no)
            .join(
                t.provider_accounts, t.provider_accounts.c.merchant_id == t.payments.c.merchant_id
            )
            .where(t.split_orders.c.out_order_no == out_order_no)
        ).first()
    if row is None:
        return
    try:
        result = funds.provider.query_split(row.transaction_id, out_order_no, row.account)
    except ProviderUnavailable:
        return  # the runner asks again
    record_result(ctx, out_order_no, result)
