"""Where "now" comes from. The core never reads a clock; the shell passes time in.

A simulated clock lets the demo and the end-to-end tests live through weeks in seconds; the server
only exposes it when started with ``--simulated-clock`` (never in production). It only ever holds
an instant in the supported years (``jifen.rules.supported_utc``): a time it is told that has no
zone, cannot be converted to UTC or lies outside them is refused, and the clock stays where it was.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from jifen.alliance.errors import InvalidRequest
from jifen.rules import supported_utc

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to, and never backwards (entries stay in order)."""

    def __init__(self, start: datetime) -> None:
        self._now = _supported(start, "start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> datetime:
        when_utc = _supported(when, "now")
        with self._lock:
            self._now = max(self._now, when_utc)
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        try:
            later = self.now() + delta
        except OverflowError as exc:  # past year 9999
            raise InvalidRequest(
                "时钟 / clock: 超出支持的年份 / beyond the supported years", field="delta"
            ) from exc
        return self.set(later)


def _supported(when: datetime, field: str) -> datetime:
    try:
        return supported_utc(when)
    except ValueError as exc:
        raise InvalidRequest(f"时钟 / clock: {exc}", field=field) from exc


def business_date(at: datetime) -> date:
    """The Asia/Shanghai calendar day an instant belongs to (settlement's business day)."""
    return at.astimezone(SHANGHAI).date()


def day_start(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as UTC."""
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return day_start(day), day_start(day + timedelta(days=1))
