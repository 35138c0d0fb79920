"""The sandbox provider's refusals, each with a stable code.

Two audiences. A WeChat Pay client (Jifen's adapter, the ``wechatpayv3`` SDK) meets
:class:`WireRefusal` as WeChat's own ``{"code", "message"}`` body and HTTP status (``400
PARAM_ERROR``, ``403 NOT_ENOUGH`` …): ``wire_code`` is WeChat's code, spelled as WeChat spells it.
A person at the control API or the ``jifen sandbox-provider`` command meets the others, printed as
``error[code]: message`` like every Jifen refusal.
"""

from __future__ import annotations

from jifen.errors import JifenError

__all__ = [
    "ControlRefused",
    "SandboxError",
    "SandboxNotFound",
    "StateInvalid",
    "WireRefusal",
]


class SandboxError(JifenError):
    """Any refusal of the sandbox provider; nothing was changed. A base to catch, never raised."""

    code = "sandbox.error"


class WireRefusal(SandboxError):
    """A WeChat Pay API v3 refusal: ``wire_code`` (``INVALID_REQUEST``, ``NOT_ENOUGH``,
    ``SIGN_ERROR`` …) and ``status`` are what the wire shows; the request changed no state."""

    code = "sandbox.refused"

    def __init__(self, status: int, wire_code: str, message: str) -> None:
        super().__init__(message, wire_code=wire_code)
        self.status = status
        self.wire_code = wire_code


class ControlRefused(SandboxError):
    """A control-API request (``/sandbox/…``) the sandbox cannot act on: a malformed body, a clock
    set backwards, an unknown fault switch."""

    code = "sandbox.control_invalid"
    status = 400


class SandboxNotFound(SandboxError):
    """A control-API request names a merchant, transaction or notification the sandbox does not
    have."""

    code = "sandbox.not_found"
    status = 404


class StateInvalid(SandboxError):
    """The state directory cannot be used: an unreadable key, a corrupt ``state.json``, a port
    already taken. The sandbox refuses to start rather than start with half its state."""

    code = "sandbox.state_invalid"
    status = 500
