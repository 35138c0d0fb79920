"""Bodies of ``/v1/webhooks`` (docs/webhooks.md): subscriptions, their deliveries, replays, and
a member's expiry reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from jifen.api._types import UtcDatetime
from jifen.api.schemas._in import Strict
from jifen.api.schemas._out import Page, _Out
from jifen.webhooks.events import EVENT_TYPES
from jifen.webhooks.subscriptions import MAX_URL_CHARS, URL_PATTERN

EventType = Literal[
    "order.recorded",
    "points.released",
    "points.redeemed",
    "order.refunded",
    "statement.closed",
    "points.expiry_reminder",
]
assert EventType.__args__ == EVENT_TYPES, "the event types are jifen.webhooks.events.EVENT_TYPES"  # type: ignore[attr-defined]


class SubscriptionIn(Strict):
    url: str = Field(
        max_length=MAX_URL_CHARS, pattern=URL_PATTERN, description="https://… 接收地址"
    )
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))


class SubscriptionChangeIn(Strict):
    url: str | None = Field(default=None, max_length=MAX_URL_CHARS, pattern=URL_PATTERN)
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    status: Literal["active", "disabled"] | None = None


class ReplayIn(Strict):
    since: UtcDatetime = Field(description="重发此时间及之后的事件 / events at or after this time")


class SubscriptionOut(_Out):
    subscription_id: str
    merchant_id: str | None
    url: str
    events: list[str]
    status: str
    created_at: datetime
    updated_at: datetime
    previous_secret_until: datetime | None


class SubscriptionCreated(SubscriptionOut):
    secret: str | None = Field(
        description="签名密钥，仅此一次显示 / the signing secret, shown this once (null on replay)"
    )


class SubscriptionList(_Out):
    items: list[SubscriptionOut]


class DeliveryOut(_Out):
    event_id: str
    event_type: str
    occurred_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None


class DeliveryPage(Page[DeliveryOut]):
    pass


class ReplayOut(_Out):
    replayed: int


class ReminderLotOut(_Out):
    lot_id: str
    points: int
    expires_at: datetime


class ReminderOut(_Out):
    business_date: str
    points: int
    first_expiry: datetime
    lots: list[ReminderLotOut]


class ReminderPage(Page[ReminderOut]):
    pass
