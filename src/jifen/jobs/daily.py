"""The daily jobs. Each business day (Asia/Shanghai) is closed once: release what is due, burn
what expired, remind members of points expiring in the next 30 days, settle every merchant, check
the reserve; then referral rewards are tracked and accrued (``run_referrals``), and a liability
snapshot is taken and its checkpoint signed (``jifen.proofs``, docs/transparency.md). Re-running a
closed day does nothing; every ledger write has a key derived from the lot or the day, so a run
that crashed half-way is finished by the next one, never doubled.

Closing a day first moves the **day fence** past it (``fence``): from then on the ledger books
every entry into a later day, so the statements read a day that can no longer change.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, func, select

from jifen.app.clock import business_date, day_start
from jifen.app.context import Context
from jifen.funds import close_money_day
from jifen.jobs.errors import UntilInFuture
from jifen.ledger import MAX_BATCH, Expire, Release, queries
from jifen.ledger.chain import utc_text
from jifen.promoters import AccrualResult, accrue_due, track_orders
from jifen.proofs import take_checkpoint
from jifen.settlement import CLOSING_JOB, Statement, reserve_status, settle_day
from jifen.store import insert_missing
from jifen.store import tables as t
from jifen.webhooks import emit, events, subscribed

REMINDER_HORIZON = timedelta(days=30)
JOB = CLOSING_JOB


@dataclass
class DayResult:
    business_date: date
    released: int = 0
    expired: int = 0
    reminders: int = 0
    payouts: int = 0  # payouts queued for merchants owed money (sent by the money runner)
    alerts: int = 0  # large-value alerts raised
    statements: list[Statement] = field(default_factory=list)
    reserve_fen: int = 0
    liability_fen: int = 0
    skipped: bool = False  # closed by an earlier run
    checkpoint: int | None = None  # the signed checkpoint taken after the last day closed

    @property
    def reserve_ok(self) -> bool:
        return self.reserve_fen >= self.liability_fen


def run_due(ctx: Context, cutoff: datetime) -> tuple[int, int]:
    """Release and expire every lot due by ``cutoff``, in batches, at the clock's time."""
    released = _drain(
        ctx,
        lambda: ctx.ledger.due_releases(cutoff, released_at=ctx.clock.now()),
        lambda batch: _release(ctx, batch),
    )
    expired = _drain(
        ctx,
        lambda: ctx.ledger.due_expiries(cutoff),
        lambda batch: ctx.ledger.submit_batch(
            [Expire(f"expire:{i}", i) for i in batch], ctx.clock.now()
        ),
    )
    return released, expired


def _drain(ctx: Context, due: Callable[[], list[str]], run: Callable[[list[str]], object]) -> int:
    done = 0
    while batch := due():
        run(batch)
        done += len(batch)
        if len(batch) < MAX_BATCH:
            break
    return done


def _release(ctx: Context, batch: list[str]) -> None:
    """One batch of releases and, in the same transaction, their ``points.released`` events
    (read only when someone subscribed to them)."""

    def work(tx: Connection) -> None:
        now = ctx.clock.now()
        lots = queries.lots_by_id(tx, batch) if subscribed(tx, events.POINTS_RELEASED) else {}
        receipts = ctx.ledger.submit_batch([Release(f"release:{i}", i) for i in batch], now,
                                           conn=tx)  # fmt: skip
        fresh = {r.key.removeprefix("release:") for r in receipts if not r.replayed}
        emit(tx, [
            events.points_released(
                lot_id=lot.lot_id, merchant_id=lot.merchant_id, order_ref=lot.order_ref,
                member_id=lot.member_id, points=lot.pending, expires_at=lot.expires_at, at=now,
            )
            for lot_id, lot in sorted(lots.items()) if lot_id in fresh
        ])  # fmt: skip

    ctx.atomic(None, work)


def _first_day(ctx: Context) -> date | None:
    with ctx.engine.connect() as conn:
        last = conn.execute(
            select(func.max(t.job_runs.c.business_date)).where(t.job_runs.c.job == JOB)
        ).scalar_one()
        if last:
            return date.fromisoformat(last) + timedelta(days=1)
        first = queries.first_entry_at(conn)
    return business_date(first) if first else None


def _remind(ctx: Context, day: date) -> int:
    """Per member: the points whose last valid day is one of the 30 days after ``day`` (brief §5:
    members are told ahead). ``expires_at`` is the first instant they are no longer valid, so
    points valid through day D+30 have ``expires_at`` = the start of D+31: the window is
    (start of D+1, start of D+31]."""
    start = day_start(day + timedelta(days=1))
    by_member: dict[str, list[tuple[str, int, datetime]]] = defaultdict(list)
    with ctx.engine.connect() as conn:
        rows = queries.expiring(conn, start, day_start(day + timedelta(days=1) + REMINDER_HORIZON))
    for member_id, lot_id, points, expires_at in rows:
        by_member[member_id].append((lot_id, points, expires_at))
    fresh = [
        {
            "member_id": member_id,
            "business_date": day.isoformat(),
            "points": sum(p for _, p, _ in lots),
            "first_expiry": lots[0][2],
            "detail": json.dumps([[i, p, utc_text(e)] for i, p, e in lots]),
        }
        for member_id, lots in sorted(by_member.items())
    ]
    if fresh:
        with ctx.writer.begin() as conn:  # the reminders and their events, in one transaction
            insert_missing(conn, t.reminders, fresh)
            emit(conn, [
                events.expiry_reminder(
                    member_id=member_id, business_date=day.isoformat(),
                    points=sum(p for _, p, _ in lots), first_expiry=lots[0][2], lots=lots,
                    at=ctx.clock.now(),
                )
                for member_id, lots in sorted(by_member.items())
            ])  # fmt: skip
    return len(by_member)


def fence(ctx: Context, day: date) -> datetime:
    """Move the day fence past ``day`` (``Ledger.fence``): from now on nothing is booked before
    the start of the next business day, so nothing can be booked into ``day`` any more."""
    open_from = day_start(day + timedelta(days=1))
    ctx.ledger.fence(open_from)
    return open_from


def close_day(ctx: Context, day: date) -> DayResult:
    fence(ctx, day)  # before anything reads the day: from here on it cannot change
    result = DayResult(day)
    result.released, result.expired = run_due(ctx, day_start(day + timedelta(days=1)))
    result.reminders = _remind(ctx, day)
    result.statements = settle_day(ctx, day)
    result.payouts, result.alerts = close_money_day(ctx, day)  # the provider pays them later
    reserve = reserve_status(ctx)
    result.reserve_fen, result.liability_fen = reserve.reserve_fen, reserve.liability_fen
    summary = {
        "released": result.released,
        "expired": result.expired,
        "reminders": result.reminders,
        "statements": len(result.statements),
        "payouts": result.payouts,
        "alerts": result.alerts,
        "reserve_fen": result.reserve_fen,
        "liability_fen": result.liability_fen,
    }
    run = {
        "job": JOB,
        "business_date": day.isoformat(),
        "finished_at": ctx.clock.now(),
        "result": json.dumps(summary, sort_keys=True),
    }
    with ctx.writer.begin() as conn:
        insert_missing(conn, t.job_runs, [run])
    return result


def run_jobs(ctx: Context, until: date | None = None) -> list[DayResult]:
    """Close every business day up to ``until`` (default: yesterday) that is over and not yet
    closed, then release and expire what is due now."""
    now = ctx.clock.now()
    today = business_date(now)
    last_closable = today - timedelta(days=1)
    if until is not None and until > last_closable:
        raise UntilInFuture(
            f"{until} 尚未结束，最多可结算到 {last_closable} / "
            f"{until} is not over yet; days up to {last_closable} can be closed",
            until=until.isoformat(),
            last_closable=last_closable.isoformat(),
        )
    last = until or last_closable
    results = []
    day = _first_day(ctx)
    while day is not None and day <= last:
        results.append(close_day(ctx, day))
        day += timedelta(days=1)
    if until is None or until == last_closable:
        run_due(ctx, now)
        run_referrals(ctx, now)
    if results:
        closed = results[-1]
        closed.checkpoint = take_checkpoint(ctx, business_date=closed.business_date).seq
    return results


def run_referrals(ctx: Context, now: datetime) -> AccrualResult:
    """Referral rewards (docs/referrals.md): the pending rewards of orders recorded since the last
    pass, then those whose window has ended accrued or reversed — after the releases above, so a
    reward's window ends when its order's points are released."""
    track_orders(ctx, now)
    return accrue_due(ctx, now)
