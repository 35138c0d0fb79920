"""Settlement errors, each a stable code the API and CLI show (see docs/api.md)."""

from __future__ import annotations

from jifen.errors import JifenError


class VerificationNotFound(JifenError):
    code = "verification.not_found"
    status = 404
