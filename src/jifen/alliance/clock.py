"""Where "now" comes from. The core never reads a clock; the shell passes time in.

A simulated clock lets the demo and the end-to-end tests live through weeks in seconds; the server
only exposes it when started with ``--simulated-clock`` (never in production).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to, and never backwards (entries stay in order)."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> datetime:
        with self._lock:
            self._now = max(self._now, when.astimezone(UTC))
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        return self.set(self.now() + delta)


def business_date(at: datetime) -> date:
    """The Asia/Shanghai calendar day an instant belongs to (settlement's business day)."""
    return at.astimezone(SHANGHAI).date()


def day_start(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as UTC."""
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return day_start(day), day_start(day + timedelta(days=1))
