"""Paying merchants what the daily settlement owes them, from the reserve's account, by
instruction through the provider (or the reserve's depository bank, seed 方案2).

What is owed is cumulative: every statement's net up to the day, less every payout not failed,
so a day a merchant owed (a cash order's charge) is netted against the next day it is owed, and
a payout that failed is owed again. One payout per merchant per business day, numbered by both,
so sending it again is the same instruction at the provider. A success books ``PayOut``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select, update

from jifen.app.context import Context
from jifen.app.paging import Page, after_cursor, check_limit, decode_cursor, encode_cursor
from jifen.funds.config import Funds
from jifen.funds.records import provider_number
from jifen.ledger import PayOut
from jifen.payments import ProviderRefused, ProviderUnavailable, TransferRequest, TransferResult
from jifen.store import insert_missing
from jifen.store import tables as t


@dataclass(frozen=True)
class Payout:
    out_payout_no: str
    merchant_id: str
    business_date: str
    fen: int
    state: str  # due | processing | succeeded | failed
    transfer_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


def owed_fen(conn: Connection, merchant_id: str, day: date) -> int:
    nets = conn.execute(
        select(func.coalesce(func.sum(t.statements.c.net_fen), 0))
        .where(t.statements.c.merchant_id == merchant_id)
        .where(t.statements.c.business_date <= day.isoformat())
    ).scalar_one()
    paid = conn.execute(
        select(func.coalesce(func.sum(t.payouts.c.fen), 0))
        .where(t.payouts.c.merchant_id == merchant_id)
        .where(t.payouts.c.state != "failed")
    ).scalar_one()
    return int(nets) - int(paid)


def queue_payouts(ctx: Context, day: date) -> int:
    """After ``day`` is settled: a payout for every linked merchant owed money."""
    now = ctx.clock.now()
    with ctx.writer.begin() as conn:
        merchants = conn.execute(select(t.provider_accounts.c.merchant_id)).scalars().all()
        rows = []
        for merchant_id in sorted(merchants):
            fen = owed_fen(conn, merchant_id, day)
            if fen > 0:
                number = provider_number("PO", merchant_id, day.isoformat())
                rows.append(
                    {
                        "out_payout_no": number,
                        "merchant_id": merchant_id,
                        "business_date": day.isoformat(),
                        "fen": fen,
                        "state": "due",
                        "transfer_id": None,
                        "attempts": 0,
                        "last_error": None,
                        "created_at": now,
                        "finished_at": None,
                    }
                )
        insert_missing(conn, t.payouts, rows)
    return len(rows)


def payouts(ctx: Context, *, merchant_id: str | None = None) -> list[Payout]:
    query = select(t.payouts).order_by(t.payouts.c.business_date, t.payouts.c.merchant_id)
    if merchant_id is not None:
        query = query.where(t.payouts.c.merchant_id == merchant_id)
    with ctx.engine.connect() as conn:
        return [Payout(**r._mapping) for r in conn.execute(query)]


def advance_payouts(ctx: Context, funds: Funds) -> int:
    """Send due payouts and follow those in flight; returns how many are still open."""
    accounts = _accounts(ctx)
    still_open = 0
    for p in payouts(ctx):
        if p.state not in ("due", "processing"):
            continue
        try:
            if p.state == "due":
                result = funds.provider.transfer(
                    TransferRequest(
                        p.out_payout_no,
                        accounts[p.merchant_id],
                        p.fen,
                        f"积分兑付结算 {p.business_date} / settlement",
                    )
                )
            else:
                result = funds.provider.query_transfer(p.out_payout_no)
        except ProviderUnavailable:
            return still_open + 1
        except ProviderRefused as exc:
            _finish(ctx, p, "failed", None, str(exc))
            continue
        still_open += int(_record(ctx, p, result))
    return still_open


def _accounts(ctx: Context) -> dict[str, str]:
    with ctx.engine.connect() as conn:
        return dict(
            conn.execute(
                select(t.provider_accounts.c.merchant_id, t.provider_accounts.c.account)
            ).all()
        )


def _record(ctx: Context, p: Payout, result: TransferResult) -> bool:
    if result.state == "SUCCESS":
        _finish(ctx, p, "succeeded", result.transfer_id, None)
        return False
    if result.state == "FAILED":
        _finish(ctx, p, "failed", result.transfer_id, result.fail_reason or "FAILED")
        return False
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.payouts)
            .where(t.payouts.c.out_payout_no == p.out_payout_no)
            .values(state="processing", transfer_id=result.transfer_id)
        )
    return True


def _finish(
    ctx: Context, p: Payout, state: str, transfer_id: str | None, error: str | None
) -> None:
    def work(tx: Connection) -> None:
        won = tx.execute(
            update(t.payouts)
            .where(t.payouts.c.out_payout_no == p.out_payout_no)
            .where(t.payouts.c.state.in_(("due", "processing")))
            .values(
                state=state,
                transfer_id=transfer_id,
                last_error=error,
                attempts=p.attempts + 1,
                finished_at=ctx.clock.now(),
            )
        ).rowcount
        if won and state == "succeeded":
            ctx.ledger.submit(
                PayOut(
                    key=f"payout:{p.out_payout_no}",
                    merchant_id=p.merchant_id,
                    fen=p.fen,
                    reference=transfer_id or p.out_payout_no,
                ),
                ctx.clock.now(),
                conn=tx,
            )

    ctx.atomic(None, work)


def list_payouts(
    ctx: Context, *, merchant_id: str | None, cursor: str | None, limit: int
) -> Page[Payout]:
    """Newest business day first; an operator sees every merchant's, a merchant its own."""
    c = t.payouts.c
    columns = [c.business_date, c.merchant_id]
    query = select(t.payouts).where(
        after_cursor(columns, decode_cursor(cursor, (str, str)), newest_first=True)
    )
    if merchant_id is not None:
        query = query.where(c.merchant_id == merchant_id)
    query = query.order_by(*(col.desc() for col in columns)).limit(check_limit(limit) + 1)
    with ctx.engine.connect() as conn:
        rows = [Payout(**r._mapping) for r in conn.execute(query)]
    last = rows[limit - 1] if len(rows) > limit else None
    return Page(
        rows[:limit], encode_cursor([last.business_date, last.merchant_id]) if last else None
    )
