"""What every alliance flow works with: the store, the ledger, the rulebook, keys and a clock."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, literal, true, tuple_
from sqlalchemy.exc import DBAPIError

from jifen.alliance._secrets import Secrets
from jifen.alliance.clock import Clock
from jifen.alliance.errors import InvalidRequest
from jifen.alliance.rulebook import Rulebook
from jifen.ledger import Ledger
from jifen.store import retryable, writer

MAX_PAGE = 100
MAX_ATTEMPTS = 8
"""How often a unit of work is run again after a deadlock, a serialization failure, a busy
SQLite or a racing insert of the same key (each attempt starts from nothing)."""
T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    ledger: Ledger
    rulebook: Rulebook
    secrets: Secrets
    clock: Clock

    @property
    def engine(self) -> Engine:
        return self.ledger.engine

    @property
    def writer(self) -> Engine:
        return writer(self.ledger.engine)

    def atomic(self, conn: Connection | None, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in the caller's transaction ``conn``, or in a new one of its own that is
        retried whole on a transient database error. Either all of its writes commit or none.

        A unit of work does every read on its own connection: it sees its own writes, and a
        request never holds one pooled connection while it waits for a second."""
        if conn is not None:
            return work(conn)
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self.writer.begin() as tx:
                    return work(tx)
            except DBAPIError as exc:
                if not retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def reading(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's connection when inside a unit of work, else a fresh one."""
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as fresh:
                yield fresh


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
    raise InvalidRequest(_INVALID_CURSOR, field="cursor")


def decode_cursor(cursor: str | None, shape: tuple[type, ...]) -> tuple[CursorValue, ...] | None:
    """One codec for every list. A cursor is opaque to callers; one that was not handed out by
    this list (tampered, truncated, or another list's) is a clear 422, never a silent first page
    or a server error. ``shape`` is the types of the list's sort key, in order."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidRequest(_INVALID_CURSOR, field="cursor")
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest(_INVALID_CURSOR, field="cursor") from exc
    if not isinstance(value, list) or len(value) != len(shape):
        raise InvalidRequest(_INVALID_CURSOR, field="cursor")
    return tuple(_cursor_field(kind, item) for kind, item in zip(shape, value, strict=True))


def after_cursor(
    columns: Sequence[ColumnElement[Any]],
    cursor: tuple[CursorValue, ...] | None,
    *,
    newest_first: bool,
) -> ColumnElement[bool]:
    """The rows after a decoded cursor in a list sorted by ``columns`` (all descending when
    ``newest_first``, else all ascending); every row when there is no cursor."""
    if cursor is None:
        return true()
    values = tuple_(*(literal(v, c.type) for c, v in zip(columns, cursor, strict=True)))
    key = tuple_(*columns)
    return key < values if newest_first else key > values


def time_cursor(at: datetime, last_id: str) -> str:
    return encode_cursor([at, last_id])


def older_than(
    at_column: ColumnElement[datetime], id_column: ColumnElement[str], cursor: str | None
) -> ColumnElement[bool]:
    """The rows after a (time, id) cursor in a newest-first list (all rows without one)."""
    return after_cursor(
        [at_column, id_column], decode_cursor(cursor, (datetime, str)), newest_first=True
    )


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit 须在 1 到 {MAX_PAGE} 之间 / limit must be 1-{MAX_PAGE}")
    return limit
