"""A real Jifen HTTP server for tests: uvicorn on 127.0.0.1 in a background thread.

``served(db_url)`` opens the alliance at ``db_url`` on a simulated clock starting at ``T0``,
registers ``OPERATOR_KEY``, and serves ``create_app(ctx)`` on a port the OS picked (with a
payment provider's ``credentials.json``, its notifications come to the served route). Clients talk
to it over real HTTP with ``ApiClient``, which adds a fresh ``Idempotency-Key`` to every write
(unless the test passes its own, to replay a request on purpose).
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from jifen.alliance.merchants import add_operator_key
from jifen.api import create_app
from jifen.api.catalogue import API_ERRORS
from jifen.app import Context, GroupSettings, SimulatedClock, open_alliance
from jifen.funds import Funds, funds_from_credentials
from jifen.sms import ConsoleSms
from jifen.web import WebSettings, create_site
from loopback_tls import LOOPBACK_TLS

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai, a Monday
OPERATOR_KEY = "jfo_test-operator-key-0123456789"
SECRET = "test-secret"
KYC = {"legal_name": "测试商贸有限公司", "licence_no": "91310000MA1FL0TEST"}  # valid for onboarding
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class ApiClient(httpx.Client):
    """An ``httpx.Client`` whose writes each carry a fresh ``Idempotency-Key`` (and which shares
    the suite's one TLS context: loopback_tls.py says why)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("verify", LOOPBACK_TLS)
        super().__init__(**kwargs)

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        if method.upper() in WRITES:
            headers = dict(kwargs.pop("headers", None) or {})
            if not any(k.lower() == "idempotency-key" for k in headers):
                headers["Idempotency-Key"] = f"test-{uuid.uuid4().hex}"
            kwargs["headers"] = headers
        return super().request(method, url, **kwargs)


@dataclass
class Server:
    base_url: str
    ctx: Context
    clock: SimulatedClock
    funds: Funds | None = None
    app: Any = None  # the ASGI app served (its routes, for tests that walk them)

    def client(self, token: str | None = None) -> ApiClient:
        """A client with ``token`` as its bearer credential (None: unauthenticated)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return ApiClient(base_url=self.base_url, headers=headers, timeout=30)

    def operator(self) -> ApiClient:
        return self.client(OPERATOR_KEY)

    def set_clock(self, when: datetime) -> datetime:
        """Move the simulated clock over HTTP (``PUT /v1/clock``, operator only)."""
        with self.operator() as op:
            r = op.put("/v1/clock", json={"now": when.isoformat()})
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["now"])


@contextmanager
def served(
    db_url: str,
    start: datetime = T0,
    provider: Path | None = None,
    group: GroupSettings | None = None,
    site: bool = False,
) -> Iterator[Server]:
    """``group``: the API's group commit settings (default: ``create_app``'s). ``site``: serve
    the consoles too (``jifen.web.create_site``, cookies without ``Secure`` on loopback, codes
    sent by the console SMS provider)."""
    clock = SimulatedClock(start)
    ctx = open_alliance(db_url, secret=SECRET, clock=clock)
    add_operator_key(ctx, OPERATOR_KEY, start)
    # proto given explicitly: asyncio sets TCP_NODELAY on accepted connections only for
    # IPPROTO_TCP sockets, and without it every response waits out a 40 ms delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port; no race with another test
    port = sock.getsockname()[1]
    funds = None
    options: dict[str, Any] = {} if group is None else {"group": group}
    if provider is not None:
        notify_url = f"http://127.0.0.1:{port}/v1/providers/wechatpay/notify"
        funds = funds_from_credentials(provider, notify_url)
        options["funds"] = funds
    if site:
        web = WebSettings(cookie_secure=False, sms=ConsoleSms())
        app = create_site(ctx, web=web, **options)
    else:
        app = create_app(ctx, **options)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="jifen-test-api", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test API server did not start")
            time.sleep(0.01)
        yield Server(f"http://127.0.0.1:{port}", ctx, clock, funds, app)
    finally:
        server.should_exit = True
        thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        sock.close()
        ctx.engine.dispose()
    if thread.is_alive():  # checked only after a passing body, so it never hides its failure
        raise RuntimeError("the test API server did not stop")


PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``r`` is an RFC 9457 problem with ``status`` and ``code``; return its body."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    missing = [f for f in PROBLEM_FIELDS if not body.get(f)]
    assert not missing, f"problem lacks {missing}: {body}"
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith(code), body
    assert API_ERRORS.get(code) == status, f"{code} is not in the error catalogue as {status}"
    return body


def without_instance(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "instance"}
