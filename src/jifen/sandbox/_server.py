"""Serving the sandbox: the Starlette app, uvicorn on loopback, and two bounded background loops.

- The **ticker** runs due work on the sandbox clock (a running clock makes work due by itself)
  and saves the state when it changed, every :data:`TICK_S` of wall time.
- The **sender** delivers callbacks that are due on the sandbox clock to their ``notify_url``,
  signed, with an HTTP timeout, outside the state lock (the receiver may well call the sandbox
  back while it handles the callback), and records each attempt; non-2xx answers are retried on
  WeChat's schedule (15 s, 15 s, 30 s, 3 min … 6 h: 15 retries, then it gives up).

"Provider down" as *connection refused* is real here: :meth:`SandboxServer.refuse_for` stops
listening for the given wall-clock seconds (at most 600), then listens on the same port again.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from jifen.sandbox import _control, _wire
from jifen.sandbox._crypto import signed_headers
from jifen.sandbox._engine import Engine
from jifen.sandbox._routes import WIRE_ROUTES
from jifen.sandbox._state import Notification
from jifen.sandbox._statedir import StateDir
from jifen.sandbox.errors import StateInvalid

log = logging.getLogger("jifen.sandbox")
HOST = "127.0.0.1"
TICK_S = 0.1
SEND_POLL_S = 0.005
"""How often the sender looks for due callbacks: a callback leaves within milliseconds of its
event, as WeChat's do, so a client waiting for one is not slowed by the ticker's pace."""
SAVE_EVERY_S = 0.5
NOTIFY_TIMEOUT_S = 5.0
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0
MAX_OUTAGE_S = 600.0


def create_app(engine: Engine) -> Starlette:
    routes = [
        Route(path, _wire.endpoint(engine, handler), methods=[method])
        for method, path, handler in WIRE_ROUTES
    ] + [
        Route(path, _control.endpoint(engine, handler), methods=[method])
        for method, path, handler in _control.CONTROL_ROUTES
    ]
    return Starlette(routes=routes)


def _deliver(engine: Engine, client: httpx.Client, notification: Notification) -> None:
    body = notification.body.encode()
    headers = signed_headers(engine.platform_key, engine.state.platform_public_key_id, body)
    headers["Content-Type"] = "application/json"
    try:
        response = client.post(notification.url, content=body, headers=headers)
    except Exception as exc:  # any failure to deliver is one failed attempt, retried later
        engine.record_attempt(notification, None, f"{type(exc).__name__}: {exc}")
        return
    engine.record_attempt(notification, response.status_code, None)


class SandboxServer:
    """The sandbox on ``127.0.0.1:port`` (0: the OS picks), until :meth:`stop`."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 0,
        start: datetime | None = None,
        running: bool = False,
    ) -> None:
        self.engine = Engine(StateDir(state_dir), start=start, running=running)
        self.engine.outage_hook = self.refuse_for
        self.app = create_app(self.engine)
        self.port = port
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._uvicorn: uvicorn.Server | None = None
        self._serving: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._restart = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> SandboxServer:
        self._listen()
        self.engine.base_url = self.base_url
        self.engine.write_credentials()
        self.engine.save_if_dirty()
        for name, loop in (("ticker", self._tick_loop), ("sender", self._send_loop)):
            thread = threading.Thread(target=loop, name=f"sandbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _listen(self) -> None:
        # IPPROTO_TCP explicitly, so asyncio sets TCP_NODELAY (see tests/api_server.py)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self.port))
        except OSError as exc:
            sock.close()
            raise StateInvalid(f"端口不可用 / cannot listen on {HOST}:{self.port}: {exc}") from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="sandbox-http", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise StateInvalid("沙箱 HTTP 服务未能启动 / the sandbox HTTP server did not start")
            time.sleep(0.01)
        self._uvicorn, self._serving, self._socket = server, thread, sock

    def _unlisten(self) -> None:
        if self._uvicorn is not None and self._serving is not None:
            self._uvicorn.should_exit = True
            self._serving.join(timeout=SHUTDOWN_TIMEOUT_S)
            if self._socket is not None:
                self._socket.close()
            self._uvicorn, self._serving, self._socket = None, None, None

    def refuse_for(self, seconds: float) -> None:
        """Connection refused for ``seconds`` of wall time, then serve again on the same port."""
        with self._restart:
            self._unlisten()
            self._stop.wait(min(seconds, MAX_OUTAGE_S))
            if not self._stop.is_set():
                try:
                    self._listen()
                except StateInvalid:
                    log.exception("sandbox: could not listen again after the outage")

    def _tick_loop(self) -> None:
        last_save = time.monotonic()
        while not self._stop.wait(TICK_S):
            try:
                self.engine.tick()
                if time.monotonic() - last_save >= SAVE_EVERY_S:
                    self.engine.save_if_dirty()
                    last_save = time.monotonic()
            except Exception:
                log.exception("sandbox: the ticker failed")

    def _send_loop(self) -> None:
        with httpx.Client(timeout=NOTIFY_TIMEOUT_S, trust_env=False) as client:
            while not self._stop.wait(SEND_POLL_S):
                for notification in self.engine.claim_due_notifications():
                    if self._stop.is_set():
                        break
                    _deliver(self.engine, client, notification)

    def stop(self) -> None:
        self._stop.set()
        with self._restart:
            self._unlisten()
        for thread in self._threads:
            thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        self.engine.save_if_dirty()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
