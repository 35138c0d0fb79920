"""Following the split returns before a refund (see ``jifen.funds.refunds``): send, follow,
renew a FAILED one under a new number, and book them all (``ReturnSplit``) once they succeeded."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from jifen.app.context import Context
from jifen.funds.config import Funds
from jifen.funds.records import Refund
from jifen.ledger import ReturnSplit
from jifen.payments import RESERVE_RECEIVER, ProviderRefused, ProviderUnavailable, ReturnRequest
from jifen.store import tables as t

RETURN_RETRY = timedelta(hours=1)
"""A FAILED return is sent again (under a new number) after this long."""
MAX_RETURN_ATTEMPTS = 24


def return_no(out_refund_no: str, receiver: str, out_order_no: str, attempt: int) -> str:
    digest = hashlib.sha256(f"{out_order_no}\x1f{receiver}".encode()).hexdigest()[:8]
    return f"{out_refund_no}-{digest}-{attempt}"


def follow_returns(ctx: Context, funds: Funds, refund: Refund, account: str) -> None:
    """From ``returning``: send due returns, follow processing ones, renew failed ones; when
    all have succeeded, book them (``ReturnSplit``) and go on to the refund."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.split_returns).where(t.split_returns.c.out_refund_no == refund.out_refund_no)
        ).all()
    now = ctx.clock.now()
    current: dict[tuple[str, str], Any] = {}
    for r in rows:  # the newest attempt per (split, receiver)
        key = (r.out_order_no, r.receiver)
        if key not in current or r.attempt > current[key].attempt:
            current[key] = r
    for r in current.values():
        try:
            if r.state == "due":
                result = funds.provider.return_split(
                    ReturnRequest(
                        merchant=account,
                        out_order_no=r.out_order_no,
                        out_return_no=r.out_return_no,
                        return_account=r.account,
                        fen=r.fen,
                        description="退款前分账回退 / return before refund",
                    )
                )
            elif r.state == "processing":
                result = funds.provider.query_return(r.out_order_no, r.out_return_no, account)
            elif r.state == "failed" and r.finished_at + RETURN_RETRY <= now:
                if r.attempt < MAX_RETURN_ATTEMPTS:
                    _renew(ctx, r, now)
                continue
            else:
                continue
        except ProviderUnavailable:
            return
        except ProviderRefused as exc:
            _set_return(ctx, r.out_return_no, "failed", None, str(exc)[:64], now)
            note(ctx, refund, str(exc))
            continue
        state = {"SUCCESS": "succeeded", "FAILED": "failed"}.get(result.result, "processing")
        _set_return(
            ctx,
            r.out_return_no,
            state,
            result.return_id,
            result.fail_reason,
            (result.finished_at or now) if state != "processing" else None,
        )
        if state == "failed":
            note(ctx, refund, f"分账回退失败 / return failed: {result.fail_reason}")
    with ctx.engine.connect() as conn:
        states = {
            (r.out_order_no, r.receiver): r.state
            for r in conn.execute(
                select(t.split_returns)
                .where(t.split_returns.c.out_refund_no == refund.out_refund_no)
                .order_by(t.split_returns.c.attempt)
            )
        }
    if states and all(s == "succeeded" for s in states.values()):
        _returned(ctx, refund)


def _renew(ctx: Context, f: Any, now: datetime) -> None:
    attempt = f.attempt + 1
    with ctx.writer.begin() as conn:
        conn.execute(
            t.split_returns.insert().values(
                out_return_no=return_no(f.out_refund_no, f.receiver, f.out_order_no, attempt),
                out_refund_no=f.out_refund_no,
                out_order_no=f.out_order_no,
                receiver=f.receiver,
                account=f.account,
                fen=f.fen,
                attempt=attempt,
                state="due",
                return_id=None,
                fail_reason=None,
                created_at=now,
                finished_at=None,
            )
        )


def _set_return(
    ctx: Context,
    out_return_no: str,
    state: str,
    return_id: str | None,
    fail_reason: str | None,
    finished_at: datetime | None,
) -> None:
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.split_returns)
            .where(t.split_returns.c.out_return_no == out_return_no)
            .values(
                state=state, return_id=return_id, fail_reason=fail_reason, finished_at=finished_at
            )
        )


def note(ctx: Context, refund: Refund, error: str) -> None:
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.refunds)
            .where(t.refunds.c.out_refund_no == refund.out_refund_no)
            .values(last_error=error, attempts=t.refunds.c.attempts + 1, updated_at=ctx.clock.now())
        )


def _returned(ctx: Context, refund: Refund) -> None:
    def work(tx: Connection) -> None:
        reserve = tx.execute(
            select(func.coalesce(func.sum(t.split_returns.c.fen), 0))
            .where(t.split_returns.c.out_refund_no == refund.out_refund_no)
            .where(t.split_returns.c.receiver == RESERVE_RECEIVER)
            .where(t.split_returns.c.state == "succeeded")
        ).scalar_one()
        if reserve:
            ctx.ledger.submit(
                ReturnSplit(
                    key=f"return:{refund.out_refund_no}",
                    merchant_id=refund.merchant_id,
                    reserve_fen=int(reserve),
                    fee_fen=0,
                    reference=refund.out_refund_no,
                ),
                ctx.clock.now(),
                conn=tx,
            )
        tx.execute(
            update(t.refunds)
            .where(t.refunds.c.out_refund_no == refund.out_refund_no)
            .where(t.refunds.c.state == "returning")
            .values(state="refunding", last_error=None, updated_at=ctx.clock.now())
        )

    ctx.atomic(None, work)
