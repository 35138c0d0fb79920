"""The real `jifen serve` as a subprocess, for tests that need the command itself (its options,
its banner and logs, the browser tests): started on 127.0.0.1 on a free port, waited for until
/healthz answers, its stderr read line by line as it runs, stopped at the end.

``Serve`` also speaks the API like ``api_server.Server`` (``client``, ``operator``, ``clock``,
``set_clock``), so ``alliance_http.open_alliance_over_http`` can set up an alliance over it. Its
``clock`` mirrors the store's simulated clock (``--simulated-clock``): it stands still between
moves, and every move goes through ``PUT /v1/clock``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest

from api_server import OPERATOR_KEY, ApiClient
from jifen.app import SimulatedClock
from loopback_tls import LOOPBACK_TLS

STARTUP_TIMEOUT_S = 60.0  # a liveness bound on a loaded machine, not a speed check
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Serve:
    process: subprocess.Popen[str]
    base_url: str
    operator_key: str
    clock: SimulatedClock | None
    lines: list[str] = field(default_factory=list)  # stderr so far, as the server wrote it
    _seen: threading.Condition = field(default_factory=threading.Condition)

    def said(self) -> str:
        with self._seen:
            return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], after: int = 0, timeout_s: float = 10) -> str:
        """The first stderr line from index ``after`` on that matches ``pattern`` (waits)."""
        deadline = time.monotonic() + timeout_s
        with self._seen:
            while True:
                for line in self.lines[after:]:
                    if pattern.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"no line matching {pattern.pattern}: " + self.said())
                self._seen.wait(left)

    def client(self, token: str | None = None) -> ApiClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return ApiClient(base_url=self.base_url, headers=headers, timeout=30)

    def operator(self) -> ApiClient:
        return self.client(self.operator_key)

    def set_clock(self, when: datetime) -> datetime:
        """Move the store's simulated clock over HTTP (``PUT /v1/clock``, operator only)."""
        assert self.clock is not None, "jifen serve was started without --simulated-clock"
        with self.operator() as op:
            r = op.put("/v1/clock", json={"now": when.isoformat()})
        assert r.status_code == 200, r.text
        return self.clock.set(datetime.fromisoformat(r.json()["now"]))

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()


@contextmanager
def jifen_serve(
    db: str,
    *options: str,
    simulated_clock: datetime | None = None,
    operator_key: str = OPERATOR_KEY,
    env: dict[str, str] | None = None,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[Serve]:
    """``jifen serve --db DB --port <free> OPTIONS`` with ``JIFEN_OPERATOR_KEY`` set (and
    ``env`` added to this process's environment); yields once /healthz answers 200.
    The daily jobs and webhook passes run only if ``options`` ask (``--jobs-every``)."""
    port = free_port()
    args = [sys.executable, "-m", "jifen", "serve", "--db", db, "--port", str(port)]
    if "--jobs-every" not in options:
        args += ["--jobs-every", "0"]
    if simulated_clock is not None:
        args += ["--simulated-clock", simulated_clock.isoformat()]
    environment = {**os.environ, **(env or {})}
    environment["JIFEN_OPERATOR_KEY"] = operator_key
    environment["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [*args, *options], env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    clock = SimulatedClock(simulated_clock) if simulated_clock else None
    served = Serve(process, f"http://127.0.0.1:{port}", operator_key, clock)
    reader = threading.Thread(target=served._read, name="jifen-serve-stderr", daemon=True)
    reader.start()
    try:
        _wait_until_healthy(served, startup_timeout_s)
        yield served
    finally:
        stop(process)
        reader.join(timeout=STOP_TIMEOUT_S)


def _wait_until_healthy(served: Serve, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=served.base_url, timeout=1, verify=LOOPBACK_TLS) as probe:
        while time.monotonic() < deadline:
            if served.process.poll() is not None:
                time.sleep(0.2)  # let the reader take the last lines
                pytest.fail(f"jifen serve stopped ({served.process.returncode}): " + served.said())
            try:
                if probe.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    pytest.fail(f"jifen serve did not answer /healthz within {timeout_s:.0f} s: " + served.said())


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM (uvicorn shuts down cleanly), then SIGKILL if it will not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
