"""The one error type every Jifen package raises.

Each error carries a stable ``code`` (``points.insufficient``) that the API shows in problem details
and the CLI prints; the message is for people and may change, the code never does.
"""

from __future__ import annotations

from typing import Any


class JifenError(Exception):
    """A refused request: the caller can read ``code`` and act on it; nothing was written."""

    code: str = "jifen.error"
    status: int = 400

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequest(JifenError):
    """What a caller sent breaks a rule of its shape: a field, a parameter, a cursor. The one
    ``request.invalid`` every shell (API, CLI, services) refuses bad input with."""

    code = "request.invalid"
    status = 422
