"""Errors of the SMS senders, each with a stable code (docs/consoles.md)."""

from __future__ import annotations

from jifen.errors import JifenError


class SmsFailed(JifenError):
    """The SMS provider refused the message or could not be reached: no code was delivered."""

    code = "sms.failed"
    status = 502


class SmsNotConfigured(JifenError):
    """The SMS provider's credentials file is missing, unreadable or lacks a field."""

    code = "sms.not_configured"
    status = 500
