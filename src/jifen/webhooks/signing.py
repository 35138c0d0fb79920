"""Signing a delivery (pure): HMAC-SHA256 over ``timestamp + "." + body``, hex, as ``v1=…``.

The timestamp is part of what is signed, so a receiver that refuses old timestamps
(``TOLERANCE_S``) cannot be fed a recorded delivery again later. While a rotated secret's grace
period lasts, the header carries one signature per secret (``v1=new,v1=old``): a receiver that
knows either accepts it, so rotating never drops an event.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

VERSION = "v1"
TOLERANCE_S = 300
"""How far a receiver should let ``Jifen-Timestamp`` be from its own clock (docs/webhooks.md)."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """``v1=<hex>`` per secret, newest first, comma-separated."""
    assert secrets, "a delivery is signed with at least one secret"
    return ",".join(f"{VERSION}={signature(s, timestamp, body)}" for s in secrets)


def verify(
    secret: str,
    timestamp: str,
    header: str,
    body: bytes,
    *,
    now_s: float,
    tolerance_s: int = TOLERANCE_S,
) -> bool:
    """What a receiver checks (the same as the five lines in docs/webhooks.md)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    expected = f"{VERSION}={signature(secret, sent, body)}"
    fresh = abs(now_s - sent) <= tolerance_s
    return fresh and any(hmac.compare_digest(expected, s.strip()) for s in header.split(","))
