"""Text messages to members' phones (短信): what Jifen asks of an SMS provider.

It stands alone, like ``jifen.payments``: it imports nothing of Jifen but ``jifen.errors``, so
the sign-in service and the consoles depend on the ``SmsSender`` protocol, never on a vendor's
SDK. Two senders: ``ConsoleSms`` (development: the code goes to the log) and
``jifen.sms.aliyun.AliyunSms`` (Aliyun SMS, 阿里云短信服务, through its official SDK).
"""

from __future__ import annotations

import logging
from typing import Protocol

from jifen.sms.errors import SmsFailed, SmsNotConfigured

__all__ = ["ConsoleSms", "SmsFailed", "SmsNotConfigured", "SmsSender", "mask_phone"]

log = logging.getLogger("jifen.sms")


class SmsSender(Protocol):
    """Sends one sign-in code. ``name`` is what ``jifen serve``'s banner says is in use."""

    name: str

    def send_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        """Deliver ``code`` to ``phone`` (11 ASCII digits); raise ``SmsFailed`` if the provider
        refuses or cannot be reached."""
        ...


def mask_phone(phone: str) -> str:
    """138****8000: enough for a person to recognise their number, not enough to dial it."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


class ConsoleSms:
    """Development only: the code is written to the log (logger ``jifen.sms``, WARNING) instead
    of a phone. The line is a fixed format the browser tests read from ``jifen serve``'s stderr:
    ``sms code for 138****8000: 123456 (console SMS provider: development only)``."""

    name = "console"

    def send_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        log.warning(
            "sms code for %s: %s (console SMS provider: development only)", mask_phone(phone), code
        )
