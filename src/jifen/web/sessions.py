"""Console sessions (会话): an API key (or, for a member, a one-time SMS code) exchanged for a
random cookie that names a row in ``web_sessions``.

Why server-side rows and not a signed cookie: signing out, a key's revocation and a merchant's
suspension must end the session at once, which a self-contained cookie cannot do. The table
keeps the SHA-256 of the cookie, never the cookie, so a copy of it signs nobody in.

Sessions run on the wall clock, not the store's clock: a simulated store's clock may jump days
ahead (the demo, the browser tests), and a person's sign-in should not expire because of it.
Each role has an idle limit and an absolute one (``LIFETIMES``, docs/consoles.md).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, or_, select, update

from jifen.api.auth import Caller
from jifen.app.context import Context
from jifen.store import tables as t

COOKIE = "jifen_session"


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta  # ended after this long without a page view
    absolute: timedelta  # ended this long after sign-in, however busy


LIFETIMES = {
    "operator": Lifetime(timedelta(minutes=30), timedelta(hours=8)),
    "auditor": Lifetime(timedelta(minutes=30), timedelta(hours=8)),
    "merchant": Lifetime(timedelta(hours=4), timedelta(hours=12)),  # a till's shift
    "member": Lifetime(timedelta(days=7), timedelta(days=30)),  # a phone in a pocket
}
TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` is written at most this often: a page view is a read, not a write."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


Now = Callable[[], datetime]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(ctx: Context, who: Caller, now: datetime) -> str:
    """A new session for ``who``; returns the cookie value (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    with ctx.writer.begin() as conn:
        conn.execute(
            t.web_sessions.insert().values(
                session_hash=_hash(token),
                role=who.role,
                merchant_id=who.merchant_id,
                member_id=who.member_id,
                key_id=who.key_id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + LIFETIMES[who.role].absolute,
            )
        )
    return token


def resume(ctx: Context, token: str, now: datetime) -> Caller | None:
    """Who holds ``token``, if its session is live: not ended, within both limits, and (for a
    key's session) the key still live and, for a merchant, the merchant not suspended."""
    s, k = t.web_sessions.c, t.api_keys.c
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(t.web_sessions).where(
                s.session_hash == _hash(token), s.ended_at.is_(None), s.expires_at > now
            )
        ).first()
        if row is None or row.last_seen_at + LIFETIMES[row.role].idle <= now:
            return None
        if row.key_id is not None:
            live = conn.execute(
                select(k.key_id).where(
                    k.key_id == row.key_id,
                    k.revoked_at.is_(None),
                    or_(k.expires_at.is_(None), k.expires_at > now),
                )
            ).first()
            if live is None:
                return None
        if row.role == "merchant" and not _merchant_active(conn, row.merchant_id):
            return None  # suspended (its keys stay live for the API's reads; the console ends)
    if now - row.last_seen_at >= TOUCH_EVERY:
        with ctx.writer.begin() as conn:
            conn.execute(
                update(t.web_sessions)
                .where(s.session_hash == row.session_hash)
                .values(last_seen_at=now)
            )
    return Caller(row.role, merchant_id=row.merchant_id, member_id=row.member_id, key_id=row.key_id)


def _merchant_active(conn: Connection, merchant_id: str | None) -> bool:
    m = t.merchants.c
    status = conn.execute(select(m.status).where(m.merchant_id == merchant_id)).scalar()
    return status == "active"


def end(ctx: Context, token: str, now: datetime) -> None:
    """Sign out: the session is ended for good (its row stays, as a record of the sign-in)."""
    s = t.web_sessions.c
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.web_sessions)
            .where(s.session_hash == _hash(token), s.ended_at.is_(None))
            .values(ended_at=now)
        )
