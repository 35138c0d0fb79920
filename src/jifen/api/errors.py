"""Errors of this package, each with a stable code (docs/api.md lists those the API answers)."""

from __future__ import annotations

from jifen.errors import InvalidRequest, JifenError


class Unauthenticated(JifenError):
    code = "auth.required"
    status = 401


class Forbidden(JifenError):
    code = "auth.forbidden"
    status = 403


class KeyRequired(InvalidRequest):
    code = "idempotency.key_required"
    status = 400


class AuthRateLimited(JifenError):
    code = "auth.rate_limited"
    status = 429


class NotReady(JifenError):
    """A readiness check's refusal; raise a subclass to give it a code of its own."""

    code = "store.not_ready"
    status = 503
