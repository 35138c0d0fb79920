"""Webhook errors: each a stable code the API and CLI show (see docs/webhooks.md)."""

from __future__ import annotations

from jifen.errors import JifenError


class WebhookError(JifenError):
    code = "webhook.error"


class SubscriptionNotFound(WebhookError):
    """No such subscription, or not the caller's (the answer is the same either way)."""

    code = "webhook.subscription_not_found"
    status = 404


class DeliveryNotFound(WebhookError):
    """The subscription has no delivery of that event."""

    code = "webhook.delivery_not_found"
    status = 404


class EventNotAllowed(WebhookError):
    """A merchant asked for an event only the operator receives (``points.expiry_reminder``:
    it tells of a member's points from every merchant)."""

    code = "webhook.event_not_allowed"
    status = 422


class SubscriptionLimit(WebhookError):
    """A subscriber already has as many live subscriptions as one may hold."""

    code = "webhook.subscription_limit"
    status = 409
