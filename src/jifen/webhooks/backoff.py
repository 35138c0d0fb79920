"""When a failed delivery is tried again (pure): exponential backoff with jitter, bounded.

Attempt 1 goes out as soon as the dispatcher sees the event. After the n-th failed attempt the
next waits ``FIRST_DELAY · 2^(n-1)``, at most ``MAX_DELAY``, times a jitter factor in
[1 − JITTER, 1 + JITTER) (so receivers coming back up are not hit by every sender at once).
After ``MAX_ATTEMPTS`` attempts — about a day — the delivery is ``failed`` and stays in the log,
where the subscriber can replay it.
"""

from __future__ import annotations

from datetime import timedelta

FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=8)
JITTER = 0.2
MAX_ATTEMPTS = 13


def nominal_delay(failed_attempts: int) -> timedelta:
    """The wait after ``failed_attempts`` failures (≥ 1), before jitter."""
    assert failed_attempts >= 1
    doubled: timedelta = FIRST_DELAY * (2 ** min(failed_attempts - 1, 20))
    return min(doubled, MAX_DELAY)


def retry_delay(failed_attempts: int, jitter: float) -> timedelta | None:
    """The wait before the next attempt, or None once the attempts are spent.
    ``jitter`` is a uniform draw in [0, 1) (the caller's random source: tests pass their own)."""
    assert 0 <= jitter < 1
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    factor = 1 - JITTER + 2 * JITTER * jitter
    return nominal_delay(failed_attempts) * factor


def schedule() -> list[timedelta]:
    """The nominal waits between the attempts, first to last (docs/webhooks.md prints them)."""
    return [nominal_delay(n) for n in range(1, MAX_ATTEMPTS)]
