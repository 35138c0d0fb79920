"""Limits the API puts on its callers: the size of a request body, and failed authentication.

Both protect the server before any work is done: a body over ``MAX_BODY_BYTES`` is refused
before it is parsed (a declared ``Content-Length`` before a byte is read; a streamed body as soon
as the count passes the limit), and an address that keeps presenting bad credentials is told to
wait (``429 auth.rate_limited`` with ``Retry-After``) before its next credential is even looked
up. Documented for operators in docs/operations.md.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jifen.api.problems import language_of, problem_response

MAX_BODY_BYTES = 1 << 20
"""1 MiB: the largest request body accepted. The largest legitimate body, a rule document or a
merchant with 200 stores, is a few tens of KiB."""
AUTH_FAILURES_MAX = 30
"""Bad credentials one client address may present within ``AUTH_FAILURE_WINDOW_S`` before its
authenticated requests are refused. Generous on purpose: many members' phones can share one
carrier-grade NAT address, and an expired token is a failure too."""
AUTH_FAILURE_WINDOW_S = 60.0
AUTH_TRACKED_ADDRESSES_MAX = 10_000
"""Addresses remembered at once (least recently failing forgotten first): bounded memory."""


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An ``HTTPException`` so
    that FastAPI re-raises it as is instead of calling it a parse error."""

    code = "request.too_large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"the request body exceeds {limit_bytes} bytes")
        self.context = {"max_bytes": limit_bytes}  # what the catalogue's detail names


class BodyLimit:
    """Pure ASGI middleware bounding request bodies at ``max_bytes``.

    Starlette has a body limiter of its own, but it answers in plain text whenever the route
    does not read the body; every refusal here must be a problem, so this one answers by itself
    when the declared length is too large, and otherwise counts what the app reads.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = exceeded = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # the rest of the body is not drained: end the connection
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:  # read outside a route (a middleware): answer it here
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            BodyTooLarge.code,
            scope.get("path"),
            lang=language_of(scope),
            context={"max_bytes": self.max_bytes},
        )
        response.headers["Connection"] = "close"  # the unread body is not drained
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class FailedAuthLimiter:
    """Counts bad credentials per client address over a sliding window; thread-safe.

    An address that presented ``max_failures`` bad credentials within the last ``window_s``
    seconds is refused (every authenticated request, good credentials included, so the answer
    is no oracle) until the oldest of those failures is ``window_s`` old. Memory is bounded:
    ``max_failures`` timestamps for each of at most ``max_addresses`` addresses.
    """

    def __init__(
        self,
        max_failures: int = AUTH_FAILURES_MAX,
        window_s: float = AUTH_FAILURE_WINDOW_S,
        max_addresses: int = AUTH_TRACKED_ADDRESSES_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or max_addresses < 1:
            raise ValueError("limits must be positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after_s(self, address: str) -> int | None:
        """Whole seconds until ``address`` may authenticate again; None if it may now."""
        now = self._clock()
        with self._lock:
            times = self._failures.get(address)
            if times is None:
                return None
            self._expire(address, times, now)
            if len(times) < self.max_failures:
                return None
            return max(1, math.ceil(times[0] + self.window_s - now))

    def failed(self, address: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._failures.get(address)
            if times is None:
                times = self._failures[address] = deque(maxlen=self.max_failures)
                while len(self._failures) > self.max_addresses:
                    self._failures.popitem(last=False)
            else:
                self._failures.move_to_end(address)
            times.append(now)

    def blocked(self) -> int:
        """How many addresses are refused right now (a metric)."""
        now = self._clock()
        with self._lock:
            return sum(
                1
                for times in self._failures.values()
                if len(times) >= self.max_failures and times[0] + self.window_s > now
            )

    def tracked(self) -> int:
        with self._lock:
            return len(self._failures)

    def _expire(self, address: str, times: deque[float], now: float) -> None:
        while times and times[0] + self.window_s <= now:
            times.popleft()
        if not times:
            del self._failures[address]
