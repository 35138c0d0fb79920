"""The sandbox's imperative heart: one state, one lock, one clock, and the work the clock makes due.

Every request and every background step runs under :attr:`Engine.lock` on a :class:`World` of
the current moment, after :meth:`Engine.run_due` has done whatever the clock made due (a split
resolving, a freeze window ending, a refund succeeding, a return timing out). Due work runs in
time order, each piece *at its own due time*, so advancing the clock by 31 days stamps the
automatic unfreeze at the end of the freeze window, not at the new now. The state is saved to the
state directory by :meth:`save_if_dirty` (the background ticker calls it twice a second, and
shutdown once more).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric import rsa

from jifen.sandbox import _refunds, _returns, _splits, _transfers
from jifen.sandbox._clock import SandboxClock
from jifen.sandbox._crypto import load_private, load_public
from jifen.sandbox._state import Attempt, Notification
from jifen.sandbox._statedir import StateDir
from jifen.sandbox._world import World
from jifen.sandbox.errors import ControlRefused

T = TypeVar("T")
log = logging.getLogger("jifen.sandbox")
MAX_TASKS_PER_RUN = 100_000
# WeChat retries a callback that was not answered 2xx 15 times over about 24 hours.
RETRY_SCHEDULE_S: tuple[int, ...] = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600)
RETRY_SCHEDULE_S += (10800, 10800, 10800, 21600, 21600)
HANDLERS: dict[str, Callable[[World, str], None]] = {
    "split": _splits.resolve,
    "auto_unfreeze": _splits.auto_unfreeze,
    "return_retry": _returns.attempt,
    "refund": _refunds.succeed,
    "transfer": _transfers.finish_batch,
}


class Engine:
    def __init__(
        self, statedir: StateDir, *, start: datetime | None = None, running: bool = False
    ) -> None:
        self.statedir = statedir
        pem, public_key_id = statedir.platform_key()
        self.platform_key: rsa.RSAPrivateKey = load_private(pem)
        fresh = not (statedir.path / "state.json").exists()
        self.state = statedir.load(start or datetime.now(UTC), public_key_id)
        if fresh:
            self.state.clock_running = running
        self.clock = SandboxClock(self.state.clock_now, running=self.state.clock_running)
        self.lock = threading.RLock()
        self.base_url = ""
        self.outage_hook: Callable[[float], None] | None = None
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._in_flight: set[str] = set()
        self._dirty = fresh

    # -- running operations -----------------------------------------------------------------
    def world(self, at: datetime) -> World:
        return World(self.state, at, self.platform_key)

    def locked(self, operation: Callable[[World], T]) -> T:
        """Run ``operation`` on the current moment, after the due work; a refusal it raises
        leaves the state as it was (operations check before they write)."""
        with self.lock:
            now = self.clock.now()
            self.run_due(now)
            result = operation(self.world(now))
            self._dirty = True
            return result

    def mutate(self, change: Callable[[], T]) -> T:
        """Run a control-API change of the state (faults, settings, merchants) under the lock."""
        with self.lock:
            result = change()
            self._dirty = True
            return result

    def run_due(self, until: datetime) -> int:
        """Do the work due up to ``until``, earliest first, each at its due time."""
        done = 0
        while done < MAX_TASKS_PER_RUN:
            due = sorted(
                (t for t in self.state.tasks if t.due_at <= until), key=lambda t: (t.due_at, t.seq)
            )
            if not due:
                break
            for task in due:
                self.state.tasks.remove(task)
                HANDLERS[task.kind](self.world(task.due_at), task.ref)
                done += 1
            self._dirty = True
        return done

    def advance_to(self, target: datetime, *, running: bool | None = None) -> datetime:
        with self.lock:
            now = self.clock.now()
            if target < now:
                raise ControlRefused(
                    "沙箱时钟不能倒退 / the sandbox clock never goes backwards",
                    now=now.isoformat(),
                    asked=target.isoformat(),
                )
            self.run_due(target)
            self._dirty = True
            return self.clock.set(target, running=running)

    def tick(self) -> None:
        with self.lock:
            self.run_due(self.clock.now())

    # -- keys -------------------------------------------------------------------------------
    def merchant_key(self, mchid: str) -> rsa.RSAPublicKey | None:
        merchant = self.state.merchants.get(mchid)
        if merchant is None or merchant.public_key_pem is None:
            return None
        if mchid not in self._keys:
            self._keys[mchid] = load_public(merchant.public_key_pem.encode())
        return self._keys[mchid]

    # -- persistence ------------------------------------------------------------------------
    def save_if_dirty(self) -> None:
        with self.lock:
            if not self._dirty:
                return
            self.state.clock_now, self.state.clock_running = self.clock.now(), self.clock.running
            self.statedir.save(self.state)
            self._dirty = False

    def write_credentials(self) -> dict[str, Any]:
        with self.lock:
            return self.statedir.write_credentials(self.state, self.base_url)

    def credentials(self) -> dict[str, Any]:
        with self.lock:
            return self.statedir.credentials(self.state, self.base_url)

    # -- callbacks --------------------------------------------------------------------------
    def claim_due_notifications(self) -> list[Notification]:
        """Notifications due now that no sender is delivering yet; each is claimed."""
        with self.lock:
            now = self.clock.now()
            due = [
                n
                for n in self.state.notifications
                if n.next_attempt_at is not None
                and n.next_attempt_at <= now
                and n.id not in self._in_flight
            ]
            self._in_flight.update(n.id for n in due)
            return due

    def record_attempt(
        self, notification: Notification, status_code: int | None, error: str | None
    ) -> None:
        with self.lock:
            now = self.clock.now()
            self._in_flight.discard(notification.id)
            notification.attempts.append(Attempt(at=now, status_code=status_code, error=error))
            if status_code is not None and 200 <= status_code < 300:
                notification.deliveries += 1
                notification.copies_left -= 1
                notification.next_attempt_at = now if notification.copies_left > 0 else None
            else:
                failures = 0
                for attempt in reversed(notification.attempts):
                    if attempt.status_code is not None and 200 <= attempt.status_code < 300:
                        break
                    failures += 1
                if failures > len(RETRY_SCHEDULE_S):
                    notification.next_attempt_at, notification.gave_up = None, True
                else:
                    delay = RETRY_SCHEDULE_S[failures - 1]
                    notification.next_attempt_at = now + timedelta(seconds=delay)
            self._dirty = True
