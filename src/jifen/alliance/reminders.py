"""A member's expiry reminders: what the daily close told them was about to expire.

The daily jobs store one reminder per member per business day (points whose last valid day
is within the next 30 days) and send it to the operator's subscribers as a
``points.expiry_reminder`` webhook (docs/webhooks.md), for the member app to pass on; the
member reads the same list here (``GET /v1/me/reminders``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from jifen.app.context import Context
from jifen.app.paging import Page, after_cursor, check_limit, decode_cursor, encode_cursor
from jifen.store import tables as t


@dataclass(frozen=True)
class ReminderLot:
    lot_id: str
    points: int
    expires_at: datetime


@dataclass(frozen=True)
class Reminder:
    business_date: str  # Asia/Shanghai, the day the reminder was made
    points: int
    first_expiry: datetime
    lots: list[ReminderLot]


def reminders(ctx: Context, member_id: str, *, cursor: str | None, limit: int) -> Page[Reminder]:
    """The member's reminders, newest day first; the cursor is the last one's day."""
    r = t.reminders
    after = decode_cursor(cursor, (str,))
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(r)
            .where(
                r.c.member_id == member_id,
                after_cursor([r.c.business_date], after, newest_first=True),
            )
            .order_by(r.c.business_date.desc())
            .limit(check_limit(limit) + 1)
        ).all()
    items = [
        Reminder(
            business_date=row.business_date,
            points=row.points,
            first_expiry=row.first_expiry,
            lots=[
                ReminderLot(lot_id, points, datetime.fromisoformat(expires))
                for lot_id, points, expires in json.loads(row.detail)
            ],
        )
        for row in rows[:limit]
    ]
    last = items[-1] if len(rows) > limit else None
    return Page(items, encode_cursor([last.business_date]) if last else None)
