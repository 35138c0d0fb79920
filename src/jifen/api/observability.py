"""What an operator sees of the running API: request ids, one JSON log line per request, and
Prometheus metrics (docs/operations.md lists every field and metric).

Nothing here ever records a credential, a phone number, a request body or a query string: a log
line names the route *template* (``/v1/orders/{order_ref}``), never the raw path, and the caller
by role only. Metric labels are bounded the same way (templates, known methods, statuses), so a
scanner cannot blow up the number of series.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jifen.api.auth import ROLE_STATE
from jifen.api.limits import FailedAuthLimiter
from jifen.api.problems import language_of, problem_response
from jifen.app.context import Context
from jifen.app.group import GroupCommitted
from jifen.jobs.scheduler import JobRun
from jifen.ledger import BatchCommitted
from jifen.settlement import ReserveStatus, reserve_status

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""An incoming request id is kept only if it is 1-128 of these characters; otherwise replaced."""
RESERVE_REFRESH_S = 60.0
"""The reserve gauges read the store at most once a minute, however often they are scraped."""
LOG_FIELDS = (
    "request_id", "method", "route", "status", "duration_ms", "role",
    "business_date", "days", "outcome", "reserve_ok",
)  # fmt: skip
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNROUTED = "unrouted"
"""The route label of a request no route answered (a raw path would be unbounded)."""

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "jifen_request_id", default=None
)
access_log = logging.getLogger("jifen.http")
log = logging.getLogger("jifen.api")


# -- logs --------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the request id of the request being
    served (if any), the known structured fields given as ``extra``, and a traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        for field in LOG_FIELDS:
            value = getattr(record, field, None)
            if value is not None and field not in entry:
                entry[field] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Send every logger (Jifen's and uvicorn's) to ``stream`` as JSON lines, except uvicorn's
    access log, which is off: it would print query strings (each request is logged by the app,
    without them)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log stays off (it would print query strings), whether uvicorn configured
    # its loggers before this (a --workers process) or does so after (one process)
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False


# -- metrics -----------------------------------------------------------------------------------


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (so many apps can coexist)."""

    def __init__(self, ctx: Context, limiter: FailedAuthLimiter | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "jifen_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "jifen_http_request_duration_seconds", "Time to answer an HTTP request",
            ["method", "route"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.in_flight = Gauge(
            "jifen_http_requests_in_flight", "HTTP requests being answered", registry=r
        )
        self.batch_operations = Histogram(
            "jifen_ledger_batch_operations", "Operations per committed ledger batch",
            registry=r, buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
        )  # fmt: skip
        self.batch_entries = Histogram(
            "jifen_ledger_batch_entries", "Journal entries written per committed batch",
            registry=r, buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "jifen_ledger_batch_commit_seconds", "From a batch's first attempt to its commit",
            registry=r, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
        )  # fmt: skip
        self.batch_retries = Counter(
            "jifen_ledger_batch_retries", "Attempts past the first, over all committed batches",
            registry=r,
        )  # fmt: skip
        self.group_works = Histogram(
            "jifen_group_commit_works", "Requests' units of work per group commit",
            registry=r, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )  # fmt: skip
        self.group_seconds = Histogram(
            "jifen_group_commit_seconds", "From a group's first attempt to its commit",
            registry=r, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
        )  # fmt: skip
        self.group_carried = Counter(
            "jifen_group_commit_carried", "Units of work carried into the next group "
            "(a transient database error, e.g. a deadlock with another group)", registry=r,
        )  # fmt: skip
        self.job_runs = Counter(
            "jifen_job_runs", "Scheduled job runs by outcome (ok, failed)", ["outcome"],
            registry=r,
        )  # fmt: skip
        self.job_seconds = Histogram(
            "jifen_job_run_duration_seconds", "Time of a scheduled job run", registry=r,
            buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
        )  # fmt: skip
        self.days_closed = Counter(
            "jifen_job_business_days_closed", "Business days closed by scheduled runs", registry=r
        )
        self.last_job_success = Gauge(
            "jifen_job_last_success_timestamp_seconds", "When a scheduled run last succeeded",
            registry=r,
        )  # fmt: skip
        for outcome in ("ok", "failed"):
            self.job_runs.labels(outcome)  # both series exist from the start, at 0
        if limiter is not None:
            blocked = Gauge(
                "jifen_auth_blocked_addresses",
                "Client addresses refused for failed authentication right now",
                registry=r,
            )
            blocked.set_function(lambda: float(limiter.blocked()))
        r.register(ReserveCollector(lambda: reserve_status(ctx)))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def batch_committed(self, event: BatchCommitted) -> None:
        """A ledger observer (``ctx.ledger.observers``): it must not raise."""
        self.batch_operations.observe(event.operations)
        self.batch_entries.observe(event.entries)
        self.batch_seconds.observe(event.seconds)
        self.batch_retries.inc(max(0, event.attempts - 1))

    def group_committed(self, event: GroupCommitted) -> None:
        """A group committer observer (``GroupCommit.observers``): it must not raise."""
        self.group_works.observe(event.works)
        self.group_seconds.observe(event.seconds)
        self.group_carried.inc(event.again)

    def job_run(self, run: JobRun) -> None:
        """A scheduler observer (``Scheduler.observers``)."""
        self.job_runs.labels("ok" if run.ok else "failed").inc()
        self.job_seconds.observe(run.seconds)
        if run.ok:
            self.days_closed.inc(run.days_closed)
            self.last_job_success.set(time.time())


class ReserveCollector(Collector):
    """Reserve coverage from the store, read at most every ``RESERVE_REFRESH_S`` seconds.

    If the store does not answer, the gauges are left out of that scrape (and the failure
    logged) rather than failing the whole scrape."""

    def __init__(
        self,
        read: Callable[[], ReserveStatus],
        refresh_s: float = RESERVE_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, ReserveStatus] | None = None

    def status(self) -> ReserveStatus | None:
        with self._lock:
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self._refresh_s:
                try:
                    self._cached = (now, self._read())
                except Exception:
                    log.warning("reserve metrics: the store did not answer", exc_info=True)
                    return self._cached[1] if self._cached else None
            return self._cached[1]

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # never read the store merely to register

    def collect(self) -> list[GaugeMetricFamily]:
        status = self.status()
        if status is None:
            return []
        ratio = status.reserve_fen / status.liability_fen if status.liability_fen else 1.0
        return [
            GaugeMetricFamily("jifen_reserve_fen", "Reserve backing points, in fen",
                              value=status.reserve_fen),
            GaugeMetricFamily("jifen_reserve_liability_fen",
                              "Outstanding points at their redemption value, in fen",
                              value=status.liability_fen),
            GaugeMetricFamily("jifen_points_outstanding", "Points issued and not yet spent",
                              value=status.outstanding_points),
            GaugeMetricFamily("jifen_reserve_coverage_ratio",
                              "Reserve / liability (1 when nothing is owed); below 1 is a breach",
                              value=ratio),
        ]  # fmt: skip


# -- the request middleware --------------------------------------------------------------------


class RequestObserver:
    """Pure ASGI middleware: gives each request an id (``X-Request-Id``, kept if valid, else
    generated) and echoes it; times the request; counts it in the metrics by route template;
    writes its log line; and answers an unexpected exception with a 500 ``internal`` problem
    (logged with its traceback, which never reaches the client)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = current_request_id.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        started_at = time.perf_counter()
        status = 500
        started = False

        async def tagged_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                ]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, tagged_send)
        except Exception:
            log.exception("unexpected error", extra={"route": self._route(scope)})
            if started:
                raise  # the answer is half sent: all that is left is to drop the connection
            response = problem_response(500, "internal", scope.get("path"), lang=language_of(scope))
            await response(scope, receive, tagged_send)
        finally:
            seconds = time.perf_counter() - started_at
            route = self._route(scope)
            self.metrics.in_flight.dec()
            self.metrics.request(scope["method"], route, status, seconds)
            access_log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"] if scope["method"] in METHODS else "OTHER",
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "role": state.get(ROLE_STATE),
                },
            )
            current_request_id.reset(token)

    @staticmethod
    def _route(scope: Scope) -> str:
        """The template of the route that answered; ``unrouted`` when none did (no route has
        the path, or the request was refused before routing: a body declared too large)."""
        path = getattr(scope.get("route"), "path", None)
        return path if isinstance(path, str) else UNROUTED


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if REQUEST_ID.fullmatch(text) else None
    return None
