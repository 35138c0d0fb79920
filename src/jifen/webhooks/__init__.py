"""Webhooks: subscribers' URLs, an outbox written in the transaction of each event, and the
dispatcher that signs, sends and retries (docs/webhooks.md).

Services write events (``emit``, on their unit of work's connection); the shell delivers
them (``deliver_due``: ``jifen serve``'s loop and ``jifen webhooks deliver``). The pure parts —
the events and their bodies, the signature, the backoff — are ``events``, ``signing`` and
``backoff``.
"""

from jifen.webhooks import events
from jifen.webhooks.backoff import MAX_ATTEMPTS, retry_delay, schedule
from jifen.webhooks.dispatch import LEASE, PassResult, deliver_due
from jifen.webhooks.errors import (
    DeliveryNotFound,
    EventNotAllowed,
    SubscriptionLimit,
    SubscriptionNotFound,
    WebhookError,
)
from jifen.webhooks.events import EVENT_TYPES, Event
from jifen.webhooks.log import Delivery, deliveries, replay_one, replay_since
from jifen.webhooks.outbox import emit, subscribed
from jifen.webhooks.signing import TOLERANCE_S, signature_header, verify
from jifen.webhooks.subscriptions import (
    Subscription,
    change,
    create,
    delete,
    get,
    list_subscriptions,
    rotate_secret,
)

__all__ = [
    "EVENT_TYPES",
    "LEASE",
    "MAX_ATTEMPTS",
    "TOLERANCE_S",
    "Delivery",
    "DeliveryNotFound",
    "Event",
    "EventNotAllowed",
    "PassResult",
    "Subscription",
    "SubscriptionLimit",
    "SubscriptionNotFound",
    "WebhookError",
    "change",
    "create",
    "delete",
    "deliver_due",
    "deliveries",
    "emit",
    "events",
    "get",
    "list_subscriptions",
    "replay_one",
    "replay_since",
    "retry_delay",
    "rotate_secret",
    "schedule",
    "signature_header",
    "subscribed",
    "verify",
]
