"""Paging: one page of a list, and the one cursor codec every list uses.

A cursor is the sort key of the last item on a page, opaque to callers. It is checked against
the shape of the list's sort key on the way back in, so a cursor the list did not hand out is a
clear ``request.invalid``, never a silent first page or a server error. The SQL half (rows after
a sort key) is ``jifen.store.after_key``, which the ledger's queries use too.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement

from jifen.errors import InvalidRequest
from jifen.store import after_key

MAX_PAGE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and the opaque cursor of the next (None: this was the last)."""

    items: Sequence[T]
    next_cursor: str | None


MAX_CURSOR_CHARS = 512
CursorValue = str | int | datetime | date
_INVALID_CURSOR = "分页游标无效 / invalid cursor"


def encode_cursor(values: Sequence[CursorValue]) -> str:
    """The opaque cursor of a list position: the sort key of the last item on the page."""
    plain = [v.isoformat() if isinstance(v, date) else v for v in values]
    text = json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _cursor_field(kind: type, value: Any) -> CursorValue:
    """One element of a cursor, checked against what the list sorts by (no coercion)."""
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < 2**63:
            return value
    elif kind is str and isinstance(value, str) and 0 < len(value) <= 200:
        return value
    elif kind in (datetime, date) and isinstance(value, str) and len(value) <= 40:
        try:
            if kind is datetime:
                at = datetime.fromisoformat(value)
                if at.tzinfo is not None:
                    return at.astimezone(UTC)
            else:
                return date.fromisoformat(value)
        except (ValueError, OverflowError):
            pass
    raise InvalidRequest(_INVALID_CURSOR, field="cursor", detail_key="cursor")


def decode_cursor(cursor: str | None, shape: tuple[type, ...]) -> tuple[CursorValue, ...] | None:
    """One codec for every list. A cursor is opaque to callers; one that was not handed out by
    this list (tampered, truncated, or another list's) is a clear 422, never a silent first page
    or a server error. ``shape`` is the types of the list's sort key, in order."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidRequest(_INVALID_CURSOR, field="cursor", detail_key="cursor")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest(_INVALID_CURSOR, field="cursor", detail_key="cursor") from exc
    if not isinstance(value, list) or len(value) != len(shape):
        raise InvalidRequest(_INVALID_CURSOR, field="cursor", detail_key="cursor")
    return tuple(_cursor_field(kind, item) for kind, item in zip(shape, value, strict=True))


def after_cursor(
    columns: Sequence[ColumnElement[Any]],
    cursor: tuple[CursorValue, ...] | None,
    *,
    newest_first: bool,
) -> ColumnElement[bool]:
    """The rows after a decoded cursor in a list sorted by ``columns`` (all descending when
    ``newest_first``, else all ascending); every row when there is no cursor."""
    return after_key(columns, cursor, newest_first=newest_first)


def time_cursor(at: datetime, last_id: str) -> str:
    return encode_cursor([at, last_id])


def older_than(
    at_column: ColumnElement[datetime], id_column: ColumnElement[str], cursor: str | None
) -> ColumnElement[bool]:
    """The rows after a (time, id) cursor in a newest-first list (all rows without one)."""
    return after_cursor(
        [at_column, id_column], decode_cursor(cursor, (datetime, str)), newest_first=True
    )


def ordered_id(prefix: str) -> str:
    """A unique id that sorts in the order ids were made (nanoseconds, then 32 random bits):
    records made at one instant of a simulated clock still list in the order they were written."""
    return f"{prefix}{time.time_ns():016x}{secrets.token_hex(4)}"


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(
            f"limit 须在 1 到 {MAX_PAGE} 之间 / limit must be 1-{MAX_PAGE}",
            field="limit",
            max_page=MAX_PAGE,
            detail_key="limit",
        )
    return limit
