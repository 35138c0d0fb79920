"""Where "now" comes from. The core never reads a clock; the shell passes time in.

A simulated clock lets the demo and the end-to-end tests live through weeks in seconds. A store
runs on one clock for life, real or simulated (see ``jifen.app._settings``): a simulated
store keeps its time in its ``settings`` table, so every process that opens it shares one time.
It only ever holds an instant in the supported years (``jifen.rules.supported_utc``): a time it is
told that has no zone, cannot be converted to UTC or lies outside them is refused, and the clock
stays where it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from jifen.errors import InvalidRequest
from jifen.rules import supported_utc

SHANGHAI = ZoneInfo("Asia/Shanghai")
_INSTANT = timedelta(microseconds=1)  # the resolution of stored times


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to, and never backwards (entries stay in order).

    ``on_move`` (see ``bind``) is called with the new time before the clock takes it, so a store
    records every move and a move that cannot be recorded does not happen."""

    def __init__(
        self, start: datetime, *, on_move: Callable[[datetime], None] | None = None
    ) -> None:
        self._now = _supported(start, "start")
        self._on_move = on_move
        self._lock = threading.Lock()  # serialises moves; reading the time needs no lock

    def now(self) -> datetime:
        return self._now

    def bind(self, on_move: Callable[[datetime], None]) -> None:
        """Report every later move to ``on_move`` (the store persisting its simulated time)."""
        with self._lock:
            self._on_move = on_move

    def set(self, when: datetime) -> datetime:
        when_utc = _supported(when, "now")
        with self._lock:
            moved = max(self._now, when_utc)
            if moved != self._now:
                if self._on_move is not None:
                    self._on_move(moved)
                self._now = moved
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        try:
            later = self.now() + delta
        except OverflowError as exc:  # past year 9999
            raise InvalidRequest(
                "时钟 / clock: 超出支持的年份 / beyond the supported years",
                field="delta",
                detail_key="clock_range",
            ) from exc
        return self.set(later)


def _supported(when: datetime, field: str) -> datetime:
    try:
        return supported_utc(when)
    except ValueError as exc:
        raise InvalidRequest(f"时钟 / clock: {exc}", field=field, detail_key="clock_range") from exc


def business_date(at: datetime) -> date:
    """The Asia/Shanghai calendar day an instant belongs to (settlement's business day)."""
    return at.astimezone(SHANGHAI).date()


def last_valid_day(expires_at: datetime) -> date:
    """The last Asia/Shanghai day on which points are valid, from ``expires_at``, the first
    instant they are no longer valid (``2028-12-31T16:00Z`` → 2028-12-31, not 2029-01-01).
    Dates and months shown to people name this day."""
    return business_date(expires_at - _INSTANT)


def day_start(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as UTC."""
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return day_start(day), day_start(day + timedelta(days=1))
