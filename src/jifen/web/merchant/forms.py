"""What a till types, read exactly: yuan as text into integer fen, a member by id or phone, a
payment time in China time, and the random key that makes one form one write.

Why text and not a number: ``float("12.3") * 100`` is ``1229.9999…``; money here is read digit
by digit, so "12.3" is 1230 fen and "12.345" is refused rather than rounded.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from jifen.api._types import MAX_REQUEST_FEN

CHINA = ZoneInfo("Asia/Shanghai")
YUAN = re.compile(r"(?P<whole>[0-9]{1,13})(?:\.(?P<cents>[0-9]{0,2}))?")
MEMBER_ID = re.compile(r"m[0-9a-f]{15}")
FORM_KEY = re.compile(r"web:[A-Za-z0-9_-]{16,64}")
PAID_AT = "%Y-%m-%dT%H:%M"
"""The ``datetime-local`` input's value, to the minute, in China time."""


def yuan_to_fen(text: str) -> int | None:
    """Yuan as typed into fen: "12.3" → 1230, "0.05" → 5, "1,234.50" → 123450; None for
    anything else: a third decimal, a sign, an exponent, zero, more than the API accepts.
    Full-width digits (a Chinese keyboard's １２) read as ASCII ones (NFKC), as phones do."""
    bare = unicodedata.normalize("NFKC", text or "").strip().replace(",", "").replace("¥", "")
    bare = bare.removeprefix("￥").strip()
    found = YUAN.fullmatch(bare)
    if found is None:
        return None
    cents = (found.group("cents") or "").ljust(2, "0")
    fen = int(found.group("whole")) * 100 + int(cents)
    return fen if 0 < fen <= MAX_REQUEST_FEN else None


def fen_to_yuan_text(fen: int) -> str:
    """The inverse for a prefilled field ("12.30"), without thousands separators."""
    return f"{fen // 100}.{fen % 100:02d}"


def is_member_id(text: str) -> bool:
    return MEMBER_ID.fullmatch(text) is not None


def paid_at_from(text: str, now: datetime) -> datetime | None:
    """The payment time typed (China time, to the minute), or ``now`` when left empty; None if
    it is not a time."""
    if not text.strip():
        return now
    try:
        return datetime.strptime(text.strip()[:16], PAID_AT).replace(tzinfo=CHINA)
    except ValueError:
        return None


def paid_at_text(at: datetime) -> str:
    return at.astimezone(CHINA).strftime(PAID_AT)


def new_form_key() -> str:
    """One per rendered form, posted back: the API's Idempotency-Key for the write it makes
    (``web:`` keeps the console's keys apart from an integration's)."""
    return "web:" + secrets.token_urlsafe(18)


def is_form_key(text: str) -> bool:
    return FORM_KEY.fullmatch(text) is not None
