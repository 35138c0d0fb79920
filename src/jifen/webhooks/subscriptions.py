"""Subscriptions: a subscriber's URL, the event types it wants, and its signing secret.

A subscriber is a merchant (its own events only) or the operator (every event, and the ones
about members across merchants: expiry reminders). Each sees and manages only its own
subscriptions; another's is "not found". The secret is shown once, when it is made (at
creation and at each rotation), and kept sealed under the store's secret; after a rotation the
old one keeps signing beside the new one for ``ROTATION_GRACE``, so a receiver can switch over
without refusing a delivery.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, func, select, update

from jifen.app.context import Context
from jifen.errors import InvalidRequest
from jifen.store import tables as t
from jifen.webhooks.errors import EventNotAllowed, SubscriptionLimit, SubscriptionNotFound
from jifen.webhooks.events import EVENT_TYPES, OPERATOR_ONLY, mask_of, types_of

MAX_SUBSCRIPTIONS = 20
"""Live (not deleted) subscriptions one subscriber may hold."""
MAX_URL_CHARS = 2000
URL_PATTERN = r'^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?][!-"$-~]*)?$'
"""An absolute http(s) URL: a host name (IDN in punycode) or IPv4 address, an optional port,
path and query in printable ASCII (anything else percent-encoded); no credentials (they would
be logged) and no fragment. The API's schema says
the same (``jifen.api.schemas._webhooks``)."""
ROTATION_GRACE = timedelta(hours=24)
SEAL_PURPOSE = "webhook-secret"
STATUSES = ("active", "disabled")
s = t.webhook_subscriptions


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    merchant_id: str | None  # None: the operator's
    url: str
    events: list[str]
    status: str  # active | disabled
    created_at: datetime
    updated_at: datetime
    previous_secret_until: datetime | None  # the rotated-out secret signs until then


def _subscription(row: Any) -> Subscription:
    return Subscription(
        subscription_id=row.subscription_id,
        merchant_id=row.merchant_id,
        url=row.url,
        events=types_of(row.event_mask),
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        previous_secret_until=row.previous_until,
    )


def check_url(url: str) -> str:
    """``URL_PATTERN``, and a host that ``urlsplit`` finds where the pattern says it is."""
    fits = isinstance(url, str) and len(url) <= MAX_URL_CHARS and re.fullmatch(URL_PATTERN, url)
    parts = urlsplit(url) if fits else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.fragment
    ):
        raise InvalidRequest(
            "url 须为 http(s) 绝对地址，不含用户名密码 / url must be an absolute http(s) URL "
            f"of at most {MAX_URL_CHARS} characters, without credentials or fragment",
            field="url",
        )
    return url


def check_events(events: Sequence[str], merchant_id: str | None) -> list[str]:
    wanted = sorted(set(events), key=EVENT_TYPES.index) if set(events) <= set(EVENT_TYPES) else []
    if not wanted:
        raise InvalidRequest(
            f"events 须为以下之一或多个 / events: one or more of {', '.join(EVENT_TYPES)}",
            field="events",
        )
    if merchant_id is not None and OPERATOR_ONLY & set(wanted):
        raise EventNotAllowed(
            f"商户不能订阅 {', '.join(sorted(OPERATOR_ONLY))} / only the operator receives "
            f"{', '.join(sorted(OPERATOR_ONLY))} (they concern members across merchants)",
            events=sorted(OPERATOR_ONLY & set(wanted)),
        )
    return wanted


def _owned(merchant_id: str | None, subscription_id: str) -> list[Any]:
    owner = s.c.merchant_id.is_(None) if merchant_id is None else s.c.merchant_id == merchant_id
    return [s.c.subscription_id == subscription_id, owner, s.c.status != "deleted"]


def owned_row(conn: Connection, merchant_id: str | None, subscription_id: str) -> Any:
    row = conn.execute(select(s).where(*_owned(merchant_id, subscription_id))).first()
    if row is None:
        raise SubscriptionNotFound(
            "没有这个订阅 / no such subscription", subscription_id=subscription_id
        )
    return row


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def create(
    ctx: Context, merchant_id: str | None, *, url: str, events: Sequence[str],
    conn: Connection | None = None,
) -> tuple[Subscription, str]:  # fmt: skip
    """A new active subscription and its secret (shown this once)."""
    url, wanted = check_url(url), check_events(events, merchant_id)
    now, secret = ctx.clock.now(), _new_secret()

    def work(tx: Connection) -> tuple[Subscription, str]:
        owner = s.c.merchant_id.is_(None) if merchant_id is None else s.c.merchant_id == merchant_id
        live = tx.execute(
            select(func.count()).select_from(s).where(owner, s.c.status != "deleted")
        ).scalar_one()
        if live >= MAX_SUBSCRIPTIONS:
            raise SubscriptionLimit(
                f"最多 {MAX_SUBSCRIPTIONS} 个订阅 / at most {MAX_SUBSCRIPTIONS} subscriptions: "
                "delete one first",
                limit=MAX_SUBSCRIPTIONS,
            )
        subscription_id = f"whs_{secrets.token_hex(12)}"
        row = {
            "subscription_id": subscription_id,
            "merchant_id": merchant_id,
            "url": url,
            "event_mask": mask_of(wanted),
            "status": "active",
            "secret_sealed": ctx.secrets.seal_text(SEAL_PURPOSE, secret),
            "previous_secret_sealed": None,
            "previous_until": None,
            "created_at": now,
            "updated_at": now,
        }
        tx.execute(s.insert().values(**row))
        return _subscription(owned_row(tx, merchant_id, subscription_id)), secret

    return ctx.atomic(conn, work)


def list_subscriptions(ctx: Context, merchant_id: str | None) -> list[Subscription]:
    """The subscriber's live subscriptions (at most ``MAX_SUBSCRIPTIONS``), oldest first."""
    owner = s.c.merchant_id.is_(None) if merchant_id is None else s.c.merchant_id == merchant_id
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(s)
            .where(owner, s.c.status != "deleted")
            .order_by(s.c.created_at, s.c.subscription_id)
        ).all()
    return [_subscription(r) for r in rows]


def get(
    ctx: Context, merchant_id: str | None, subscription_id: str, *, conn: Connection | None = None
) -> Subscription:
    with ctx.reading(conn) as c:
        return _subscription(owned_row(c, merchant_id, subscription_id))


def change(
    ctx: Context, merchant_id: str | None, subscription_id: str, *, url: str | None = None,
    events: Sequence[str] | None = None, status: str | None = None,
    conn: Connection | None = None,
) -> Subscription:  # fmt: skip
    """Change the URL, the event types, or pause (``disabled``) and resume (``active``). A
    disabled subscription gets no new events; what was pending waits and goes out on resume."""
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = check_url(url)
    if events is not None:
        values["event_mask"] = mask_of(check_events(events, merchant_id))
    if status is not None:
        if status not in STATUSES:
            raise InvalidRequest("status 须为 active 或 disabled / status: active or disabled",
                                 field="status")  # fmt: skip
        values["status"] = status
    return _update(ctx, merchant_id, subscription_id, values, conn)


def delete(
    ctx: Context, merchant_id: str | None, subscription_id: str, *, conn: Connection | None = None
) -> Subscription:
    """Stop for good: no more events or deliveries; its log is kept, but no longer shown."""
    return _update(ctx, merchant_id, subscription_id, {"status": "deleted"}, conn)


def rotate_secret(
    ctx: Context, merchant_id: str | None, subscription_id: str, *, conn: Connection | None = None
) -> tuple[Subscription, str]:
    """A new secret (shown this once); the current one keeps signing for ``ROTATION_GRACE``."""
    now, secret = ctx.clock.now(), _new_secret()

    def work(tx: Connection) -> tuple[Subscription, str]:
        row = owned_row(tx, merchant_id, subscription_id)
        values = {
            "secret_sealed": ctx.secrets.seal_text(SEAL_PURPOSE, secret),
            "previous_secret_sealed": row.secret_sealed,
            "previous_until": now + ROTATION_GRACE,
        }
        return _update(ctx, merchant_id, subscription_id, values, tx), secret

    return ctx.atomic(conn, work)


def _update(
    ctx: Context, merchant_id: str | None, subscription_id: str, values: dict[str, Any],
    conn: Connection | None,
) -> Subscription:  # fmt: skip
    def work(tx: Connection) -> Subscription:
        owned_row(tx, merchant_id, subscription_id)
        tx.execute(
            update(s)
            .where(s.c.subscription_id == subscription_id)
            .values(**values, updated_at=ctx.clock.now())
        )
        row = tx.execute(select(s).where(s.c.subscription_id == subscription_id)).one()
        return _subscription(row)

    return ctx.atomic(conn, work)


def signing_secrets(ctx: Context, row: Any, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the rotated-out one
    while its grace period lasts."""
    found = [ctx.secrets.unseal_text(SEAL_PURPOSE, row.secret_sealed)]
    if row.previous_secret_sealed and row.previous_until and row.previous_until > now:
        found.append(ctx.secrets.unseal_text(SEAL_PURPOSE, row.previous_secret_sealed))
    return found
