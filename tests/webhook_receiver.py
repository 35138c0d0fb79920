"""A webhook receiver for tests: an HTTP server on 127.0.0.1 (a port the OS picks) in a
background thread, recording every request, answering what the test tells it to, stopped when
the ``receiving`` block ends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_S = 30.0
"""The longest a held request waits to be let go (a test that forgets never hangs)."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda _: 200
    """The status to answer a request with (it is recorded first)."""
    hold: threading.Event | None = None
    """If set, each request waits (at most ``HOLD_S``) for it before answering."""
    arrived: threading.Event = field(default_factory=threading.Event)

    def event_ids(self) -> list[str]:
        return [r.headers["Jifen-Event-Id"] for r in self.requests]

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]


@contextmanager
def receiving(path: str = "/hooks") -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            got = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            receiver.requests.append(got)
            receiver.arrived.set()
            if receiver.hold is not None:
                receiver.hold.wait(HOLD_S)
            status = receiver.answer(got)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
