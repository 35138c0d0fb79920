"""The sandbox's own clock, and the time formats WeChat Pay writes.

Business time (when a payment settles, when a freeze window ends, when a split resolves, when a
bill URL expires) runs on :class:`SandboxClock`, which a test or a demo sets and advances through
the control API. It is *frozen* (it moves only when told) or *running* (it follows the wall clock
from where it was set). It never goes backwards: the records it stamps would stop being in order.

Transport time is not business time: request signatures are checked for freshness, and responses
and callbacks are stamped, against the wall clock, because every real client (the unmodified SDK
included) signs with ``time.time()``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone

from jifen.sandbox.errors import ControlRefused

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def rfc3339(when: datetime) -> str:
    """WeChat's time format: China time with its offset, whole seconds
    (``2026-03-02T10:00:00+08:00``)."""
    return when.astimezone(CHINA).replace(microsecond=0).isoformat()


def china_date(when: datetime) -> date:
    return when.astimezone(CHINA).date()


def bill_time(when: datetime) -> str:
    """The bill files' time format: China time, ``2026-03-02 10:00:00``."""
    return when.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def aware(when: datetime) -> datetime:
    """``when`` as a UTC datetime; a naive one is refused, since its zone would be a guess."""
    if when.tzinfo is None:
        raise ControlRefused("时间须带时区 / the time needs a UTC offset", value=str(when))
    return when.astimezone(UTC)


class SandboxClock:
    """Thread-safe business clock: frozen, or running from an anchor at wall-clock speed."""

    def __init__(self, start: datetime, *, running: bool = False) -> None:
        self._lock = threading.Lock()
        self._anchor = aware(start)
        self._anchor_mono = time.monotonic()
        self._running = running

    @property
    def running(self) -> bool:
        return self._running

    def now(self) -> datetime:
        with self._lock:
            return self._read()

    def _read(self) -> datetime:
        if not self._running:
            return self._anchor
        return self._anchor + timedelta(seconds=time.monotonic() - self._anchor_mono)

    def set(self, when: datetime, *, running: bool | None = None) -> datetime:
        """Move to ``when`` (never backwards) and optionally start or stop running."""
        target = aware(when)
        with self._lock:
            current = self._read()
            if target < current:
                raise ControlRefused(
                    "沙箱时钟不能倒退 / the sandbox clock never goes backwards",
                    now=current.isoformat(),
                    asked=target.isoformat(),
                )
            self._anchor, self._anchor_mono = target, time.monotonic()
            if running is not None:
                self._running = running
            return target

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ControlRefused("只能向前拨 / the clock only advances", seconds=seconds)
        return self.set(self.now() + timedelta(seconds=seconds))
