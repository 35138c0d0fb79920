"""The dispatcher: sends what the outbox holds, records each attempt, retries with backoff.

One pass (``deliver_due``) claims the deliveries that are due, POSTs each to its subscription's
URL (signed, ``jifen.webhooks.signing``), and records the answer: a 2xx is ``delivered``;
anything else (another status, a timeout, a refused connection) is tried again after the
backoff of ``jifen.webhooks.backoff``, and after the last attempt is ``failed``. Delivery is at
least once: a claim holds a delivery for ``LEASE``; a dispatcher that dies holding it (after
the send, before recording it) leaves it to be sent again once the lease is over, under the
same event id, which is what subscribers dedupe on.

``jifen serve`` runs a pass every few seconds beside the daily jobs; ``jifen webhooks deliver``
runs one by hand. Times are the store's clock (a simulated store retries on simulated time);
only ``Jifen-Timestamp`` is the wall clock, because the receiver checks it against its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, select, update

from jifen import __version__
from jifen.app.context import Context
from jifen.store import tables as t
from jifen.webhooks.backoff import retry_delay
from jifen.webhooks.signing import signature_header
from jifen.webhooks.subscriptions import signing_secrets

LEASE = timedelta(minutes=2)
"""How long a claimed delivery is held by the dispatcher sending it (longer than a send)."""
MAX_PER_PASS = 200
TIMEOUT_S = 10.0
SENDERS = 8
"""Sends in flight at once: one slow receiver does not hold up the others for a whole pass."""
MAX_ERROR_CHARS = 200
d, s = t.webhook_deliveries, t.webhook_subscriptions


@dataclass(frozen=True)
class PassResult:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0  # failed this time, tried again later
    failed: int = 0  # failed for the last time


@dataclass(frozen=True)
class _Claimed:
    subscription_id: str
    event_id: str
    event_type: str
    body: str
    url: str
    secrets: list[str]
    attempt: int  # the number of this attempt, 1 for the first


@dataclass(frozen=True)
class _Answer:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver_due(
    ctx: Context,
    *,
    limit: int = MAX_PER_PASS,
    client: httpx.Client | None = None,
    wall: Callable[[], float] = time.time,
    jitter: Callable[[], float] = random.random,
) -> PassResult:
    """One bounded pass: at most ``limit`` due deliveries, each attempted once."""
    claimed = ctx.atomic(None, lambda tx: _claim(ctx, tx, limit))
    if not claimed:
        return PassResult()
    opened = nullcontext(client) if client is not None else _client()
    with opened as http, ThreadPoolExecutor(min(SENDERS, len(claimed))) as pool:
        answers = list(pool.map(lambda c: _send(http, c, wall), claimed))
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for item, answer in zip(claimed, answers, strict=True):

        def record(
            tx: Connection, i: _Claimed = item, a: _Answer = answer, j: float = jitter()
        ) -> str:
            return _record(ctx, tx, i, a, j)

        counts[ctx.atomic(None, record)] += 1
    return PassResult(attempted=len(claimed), **counts)


def _client() -> httpx.Client:
    return httpx.Client(
        timeout=TIMEOUT_S,
        follow_redirects=False,
        headers={"User-Agent": f"Jifen-Webhooks/{__version__}"},
    )


def _claim(ctx: Context, tx: Connection, limit: int) -> list[_Claimed]:
    """Due deliveries of active subscriptions, each taken for ``LEASE`` by moving its next
    attempt: a second dispatcher's claim of the same row matches nothing and skips it."""
    now = ctx.clock.now()
    rows = tx.execute(
        select(d, s.c.url, s.c.secret_sealed, s.c.previous_secret_sealed, s.c.previous_until)
        .join(s, s.c.subscription_id == d.c.subscription_id)
        .where(d.c.status == "pending", d.c.next_attempt_at <= now, s.c.status == "active")
        .order_by(d.c.next_attempt_at, d.c.subscription_id, d.c.event_id)
        .limit(limit)
    ).all()
    claimed = []
    for row in rows:
        taken = tx.execute(
            update(d)
            .where(
                d.c.subscription_id == row.subscription_id,
                d.c.event_id == row.event_id,
                d.c.status == "pending",
                d.c.next_attempt_at == row.next_attempt_at,
            )
            .values(next_attempt_at=now + LEASE)
        ).rowcount
        if taken == 1:
            claimed.append(
                _Claimed(
                    row.subscription_id, row.event_id, row.event_type, row.body, row.url,
                    signing_secrets(ctx, row, now), row.attempts + 1,
                )
            )  # fmt: skip
    return claimed


def _send(http: httpx.Client, item: _Claimed, wall: Callable[[], float]) -> _Answer:
    body = item.body.encode()
    timestamp = int(wall())
    headers = {
        "Content-Type": "application/json",
        "Jifen-Event-Id": item.event_id,
        "Jifen-Event-Type": item.event_type,
        "Jifen-Delivery-Attempt": str(item.attempt),
        "Jifen-Timestamp": str(timestamp),
        "Jifen-Signature": signature_header(item.secrets, timestamp, body),
    }
    try:
        r = http.post(item.url, content=body, headers=headers)
    except Exception as exc:  # a network error, or a URL httpx cannot send to: this one's own
        return _Answer(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    error = None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}"
    return _Answer(r.status_code, error)


def _record(ctx: Context, tx: Connection, item: _Claimed, answer: _Answer, draw: float) -> str:
    now = ctx.clock.now()
    values: dict[str, Any] = {
        "attempts": item.attempt,
        "last_attempt_at": now,
        "last_status_code": answer.status_code,
        "last_error": answer.error,
    }
    if answer.ok:
        outcome = "delivered"
        values.update(status="delivered", next_attempt_at=None, delivered_at=now)
    elif (delay := retry_delay(item.attempt, draw)) is None:
        outcome = "failed"
        values.update(status="failed", next_attempt_at=None)
    else:
        outcome = "retrying"
        values.update(next_attempt_at=now + delay)
    tx.execute(
        update(d)
        .where(
            d.c.subscription_id == item.subscription_id,
            d.c.event_id == item.event_id,
            d.c.status == "pending",  # replayed or given up meanwhile: leave it as it is now
        )
        .values(**values)
    )
    return outcome
