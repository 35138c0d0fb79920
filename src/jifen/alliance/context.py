"""What every alliance flow works with: the store, the ledger, the rulebook, keys and a clock."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Engine, and_, or_, true

from jifen.alliance._secrets import Secrets
from jifen.alliance.clock import Clock
from jifen.alliance.errors import InvalidRequest
from jifen.alliance.rulebook import Rulebook
from jifen.ledger import Ledger
from jifen.store import writer

MAX_PAGE = 100
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


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and the opaque cursor of the next (None: this was the last)."""

    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """Cursors are opaque to callers; a tampered one is a clear 422, not a server error."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("分页游标无效 / invalid cursor", field="cursor") from exc
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise InvalidRequest("分页游标无效 / invalid cursor", field="cursor")
    return value


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """A (time, id) cursor, as the newest-first lists hand out."""
    after = decode_cursor(cursor)
    if after is None:
        return None
    try:
        at, last_id = datetime.fromisoformat(str(after[0])), str(after[1])
    except (ValueError, IndexError) as exc:
        raise InvalidRequest("分页游标无效 / invalid cursor", field="cursor") from exc
    if at.tzinfo is None:
        raise InvalidRequest("分页游标无效 / invalid cursor", field="cursor")
    return at, last_id


def older_than(
    at_column: ColumnElement[datetime], id_column: ColumnElement[str], cursor: str | None
) -> ColumnElement[bool]:
    """The rows after a (time, id) cursor in a newest-first list (all rows without one)."""
    after = decode_time_cursor(cursor)
    if after is None:
        return true()
    at, last_id = after
    return or_(at_column < at, and_(at_column == at, id_column < last_id))


def time_cursor(at: datetime, last_id: str) -> str:
    return encode_cursor([at.isoformat(), last_id])


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit 须在 1 到 {MAX_PAGE} 之间 / limit must be 1-{MAX_PAGE}")
    return limit
