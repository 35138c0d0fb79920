"""The events a subscriber can receive, and the one body each is sent as (pure).

Every event has an id derived from what happened (the order's lot, the refund's entry, the
statement's merchant and day), never from when it was written: the same event written twice —
a job re-run after a crash, a retried unit of work — has the same id, and the outbox keeps it
once per subscription. A subscriber dedupes on that id (``Jifen-Event-Id``), because delivery is
at least once.

The names are stable: an event type is never renamed or reused, and its bit in a
subscription's ``event_mask`` is its position in ``EVENT_TYPES`` (append new types at the end).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ORDER_RECORDED = "order.recorded"
POINTS_RELEASED = "points.released"
POINTS_REDEEMED = "points.redeemed"
ORDER_REFUNDED = "order.refunded"
STATEMENT_CLOSED = "statement.closed"
EXPIRY_REMINDER = "points.expiry_reminder"

EVENT_TYPES: tuple[str, ...] = (
    ORDER_RECORDED,
    POINTS_RELEASED,
    POINTS_REDEEMED,
    ORDER_REFUNDED,
    STATEMENT_CLOSED,
    EXPIRY_REMINDER,
)
"""Every event type, in bit order (never reorder: stored masks name positions)."""
OPERATOR_ONLY = frozenset({EXPIRY_REMINDER})
"""Events about a member across merchants: only the operator (the member app's owner) gets
them; a merchant would learn of points earned at other merchants."""


def bit(event_type: str) -> int:
    return 1 << EVENT_TYPES.index(event_type)


def mask_of(event_types: Iterable[str]) -> int:
    mask = 0
    for name in event_types:
        mask |= bit(name)
    return mask


def types_of(mask: int) -> list[str]:
    return [name for name in EVENT_TYPES if mask & bit(name)]


def _text(value: Any) -> Any:
    """Times as UTC ISO 8601 with a ``Z``; everything else as it is (ints, strings, None)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value


@dataclass(frozen=True)
class Event:
    """Something that happened, for whom: ``merchant_id`` is the merchant whose subscriptions
    receive it (None: the operator's only). ``key`` names the happening itself."""

    event_type: str
    key: str
    merchant_id: str | None
    occurred_at: datetime
    data: Mapping[str, Any]

    def __post_init__(self) -> None:
        assert self.event_type in EVENT_TYPES, self.event_type
        assert self.occurred_at.tzinfo is not None

    @property
    def event_id(self) -> str:
        digest = hashlib.sha256(f"{self.event_type}\x1f{self.key}".encode()).hexdigest()
        return f"evt_{digest[:32]}"

    def body(self) -> str:
        """The JSON sent (and signed): the same bytes on every attempt and every replay."""
        doc = {
            "id": self.event_id,
            "type": self.event_type,
            "occurred_at": _text(self.occurred_at),
            "merchant_id": self.merchant_id,
            "data": _text(dict(self.data)),
        }
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def order_recorded(
    *, lot_id: str, merchant_id: str, order_ref: str, member_id: str, amount_fen: int,
    points: int, rule_version: int, paid_at: datetime, release_at: datetime | None,
    expires_at: datetime | None, at: datetime,
) -> Event:  # fmt: skip
    """A paid order earned pending points (orders that earn nothing are not events)."""
    data = {
        "order_ref": order_ref, "member_id": member_id, "amount_fen": amount_fen,
        "points": points, "rule_version": rule_version, "paid_at": paid_at,
        "release_at": release_at, "expires_at": expires_at,
    }  # fmt: skip
    return Event(ORDER_RECORDED, lot_id, merchant_id, at, data)


def points_released(
    *, lot_id: str, merchant_id: str, order_ref: str, member_id: str, points: int,
    expires_at: datetime | None, at: datetime,
) -> Event:  # fmt: skip
    """An order's pending points became available (its return window ended)."""
    data = {
        "order_ref": order_ref, "member_id": member_id, "points": points,
        "expires_at": expires_at,
    }  # fmt: skip
    return Event(POINTS_RELEASED, lot_id, merchant_id, at, data)


def points_redeemed(
    *, redemption_id: str, merchant_id: str, order_ref: str, member_id: str, points: int,
    value_fen: int, at: datetime,
) -> Event:  # fmt: skip
    """A member paid with points at the merchant."""
    data = {
        "redemption_id": redemption_id, "order_ref": order_ref, "member_id": member_id,
        "points": points, "value_fen": value_fen,
    }  # fmt: skip
    return Event(POINTS_REDEEMED, redemption_id, merchant_id, at, data)


def order_refunded(
    *, refund_entry_id: str, merchant_id: str, order_ref: str, refund_ref: str, member_id: str,
    refund_fen: int, clawback_points: int, shortfall_points: int, deduct_fen: int, at: datetime,
) -> Event:  # fmt: skip
    """A refund clawed back (or voided) the points its order earned, pro rata."""
    data = {
        "order_ref": order_ref, "refund_ref": refund_ref, "member_id": member_id,
        "refund_fen": refund_fen, "clawback_points": clawback_points,
        "shortfall_points": shortfall_points, "deduct_fen": deduct_fen,
    }  # fmt: skip
    return Event(ORDER_REFUNDED, refund_entry_id, merchant_id, at, data)


def statement_closed(*, merchant_id: str, business_date: str, figures: Mapping[str, Any],
                     at: datetime) -> Event:  # fmt: skip
    """A merchant's daily statement was closed (its figures can no longer change)."""
    data = {"business_date": business_date, **figures}
    return Event(STATEMENT_CLOSED, f"{merchant_id}:{business_date}", merchant_id, at, data)


def expiry_reminder(
    *, member_id: str, business_date: str, points: int, first_expiry: datetime,
    lots: list[tuple[str, int, datetime]], at: datetime,
) -> Event:  # fmt: skip
    """A member has points whose last valid day is within the next 30 days (operator only)."""
    data = {
        "member_id": member_id, "business_date": business_date, "points": points,
        "first_expiry": first_expiry,
        "lots": [{"lot_id": i, "points": p, "expires_at": e} for i, p, e in lots],
    }  # fmt: skip
    return Event(EXPIRY_REMINDER, f"{member_id}:{business_date}", None, at, data)
