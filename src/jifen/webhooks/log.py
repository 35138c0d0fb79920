"""The delivery log a subscriber reads, and replay: one event, or every event since a time.

A replay puts deliveries back to ``pending`` with their attempts counted from zero, due now;
the dispatcher sends them again with the same event id and the same body, so a subscriber
that dedupes on ``Jifen-Event-Id`` may replay freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, older_than, time_cursor
from jifen.errors import InvalidRequest
from jifen.store import tables as t
from jifen.webhooks.errors import DeliveryNotFound
from jifen.webhooks.subscriptions import owned_row

DELIVERY_STATUSES = ("pending", "delivered", "failed")
d = t.webhook_deliveries


@dataclass(frozen=True)
class Delivery:
    subscription_id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    status: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.subscription_id, row.event_id, row.event_type, row.occurred_at, row.status,
        row.attempts, row.next_attempt_at, row.last_attempt_at, row.last_status_code,
        row.last_error, row.delivered_at,
    )  # fmt: skip


def deliveries(
    ctx: Context, merchant_id: str | None, subscription_id: str, *, status: str | None = None,
    cursor: str | None, limit: int,
) -> Page[Delivery]:  # fmt: skip
    """The subscription's deliveries, newest event first (optionally of one status)."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidRequest(
            f"status 须为 {', '.join(DELIVERY_STATUSES)} / status: one of "
            f"{', '.join(DELIVERY_STATUSES)}",
            field="status",
        )
    with ctx.engine.connect() as conn:
        owned_row(conn, merchant_id, subscription_id)
        query = (
            select(d)
            .where(
                d.c.subscription_id == subscription_id,
                older_than(d.c.occurred_at, d.c.event_id, cursor),
            )
            .order_by(d.c.occurred_at.desc(), d.c.event_id.desc())
            .limit(check_limit(limit) + 1)
        )
        if status is not None:
            query = query.where(d.c.status == status)
        rows = conn.execute(query).all()
    items = [_delivery(r) for r in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return Page(items, time_cursor(last.occurred_at, last.event_id) if last else None)


def _pk(subscription_id: str, event_id: str) -> list[Any]:
    return [d.c.subscription_id == subscription_id, d.c.event_id == event_id]


def _again(now: datetime) -> dict[str, Any]:
    return {"status": "pending", "attempts": 0, "next_attempt_at": now, "delivered_at": None}


def replay_one(
    ctx: Context, merchant_id: str | None, subscription_id: str, event_id: str,
    *, conn: Connection | None = None,
) -> Delivery:  # fmt: skip
    """Send one event again (whatever its status), as soon as the dispatcher passes."""

    def work(tx: Connection) -> Delivery:
        owned_row(tx, merchant_id, subscription_id)
        done = tx.execute(
            update(d).where(*_pk(subscription_id, event_id)).values(**_again(ctx.clock.now()))
        ).rowcount
        if done != 1:
            raise DeliveryNotFound("没有这次投递 / no such delivery", event_id=event_id)
        return _delivery(tx.execute(select(d).where(*_pk(subscription_id, event_id))).one())

    return ctx.atomic(conn, work)


def replay_since(
    ctx: Context, merchant_id: str | None, subscription_id: str, since: datetime,
    *, conn: Connection | None = None,
) -> int:  # fmt: skip
    """Send again every event that occurred at or after ``since``; how many."""

    def work(tx: Connection) -> int:
        owned_row(tx, merchant_id, subscription_id)
        result = tx.execute(
            update(d)
            .where(d.c.subscription_id == subscription_id, d.c.occurred_at >= since)
            .values(**_again(ctx.clock.now()))
        )
        return int(result.rowcount)

    return ctx.atomic(conn, work)
