"""Errors of this package, each with a stable code (docs/api.md lists those the API answers)."""

from __future__ import annotations

from jifen.errors import JifenError


class StoreUnavailable(JifenError):
    code = "store.unavailable"
    status = 503
