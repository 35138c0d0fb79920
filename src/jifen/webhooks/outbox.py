"""The outbox: an event becomes delivery rows in the transaction that made it happen.

``emit`` is called by a service on the connection of its own unit of work, so the rows commit
with the event or not at all: a refused request (rolled back to its savepoint in a group
commit) leaves no event, and a crash after the commit leaves the rows pending for the
dispatcher — no event is lost between the commit and the send.

The cost on the order path is one statement: ``INSERT … SELECT`` from the active
subscriptions that want the event, so it writes a row per subscriber and nothing when nobody
subscribed, with no cache to keep right across worker processes. A row is keyed by
(subscription, event id) and inserted only if missing: an event written again (a job re-run)
stays one delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, String, Text, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from jifen.store import tables as t
from jifen.store.tables import UTCDateTime
from jifen.webhooks.events import Event, bit

ACTIVE = "active"
s = t.webhook_subscriptions
d = t.webhook_deliveries
COLUMNS = ("subscription_id", "event_id", "event_type", "occurred_at", "body", "status",
           "attempts", "next_attempt_at")  # fmt: skip


def _wants(event_type: str, merchant_id: str | None) -> list[Any]:
    """Active subscriptions to ``event_type`` that may see an event of ``merchant_id``: the
    operator's (every merchant) and, for a merchant's event, that merchant's own."""
    owner: ColumnElement[bool] = s.c.merchant_id.is_(None)
    if merchant_id is not None:
        owner = or_(owner, s.c.merchant_id == merchant_id)
    return [s.c.status == ACTIVE, s.c.event_mask.op("&")(bit(event_type)) != 0, owner]


def _insert(conn: Connection) -> Any:
    return postgresql.insert(d) if conn.dialect.name == "postgresql" else sqlite.insert(d)


def emit(conn: Connection, events: Sequence[Event]) -> None:
    """Write ``events`` into the outbox on ``conn`` (the caller's transaction)."""
    if len(events) == 1:
        _emit_one(conn, events[0])
    elif events:
        _emit_many(conn, events)


def _emit_one(conn: Connection, event: Event) -> None:
    rows = select(
        s.c.subscription_id,
        literal(event.event_id, String()),
        literal(event.event_type, String()),
        literal(event.occurred_at, UTCDateTime()),
        literal(event.body(), Text()),
        literal("pending", String()),
        literal(0, Integer()),
        literal(event.occurred_at, UTCDateTime()),
    ).where(*_wants(event.event_type, event.merchant_id))
    conn.execute(_insert(conn).from_select(list(COLUMNS), rows).on_conflict_do_nothing())


def _emit_many(conn: Connection, events: Sequence[Event]) -> None:
    """A job's batch: read the subscribers once, then insert every row in one statement."""
    kinds = {e.event_type for e in events}
    mask = 0
    for kind in kinds:
        mask |= bit(kind)
    subscribers = conn.execute(
        select(s.c.subscription_id, s.c.merchant_id, s.c.event_mask).where(
            s.c.status == ACTIVE, s.c.event_mask.op("&")(mask) != 0
        )
    ).all()
    if not subscribers:
        return
    rows = [
        {
            "subscription_id": sub.subscription_id,
            "event_id": e.event_id,
            "event_type": e.event_type,
            "occurred_at": e.occurred_at,
            "body": e.body(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": e.occurred_at,
        }
        for e in events
        for sub in subscribers
        if sub.event_mask & bit(e.event_type) and sub.merchant_id in (None, e.merchant_id)
    ]
    if rows:
        conn.execute(_insert(conn).on_conflict_do_nothing(), rows)


def subscribed(conn: Connection, event_type: str) -> bool:
    """Whether any active subscription wants ``event_type`` at all (a job skips building events
    nobody would receive)."""
    found = conn.execute(
        select(s.c.subscription_id)
        .where(s.c.status == ACTIVE, s.c.event_mask.op("&")(bit(event_type)) != 0)
        .limit(1)
    ).first()
    return found is not None
