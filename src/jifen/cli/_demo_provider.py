"""The demo's payment provider: the sandbox (``jifen.sandbox``) on a frozen clock that follows
the demo's, and Jifen's own API on loopback to take the sandbox's notifications — the very
route a real deployment exposes, so the demo's orders are paid exactly as real ones are.

The sandbox runs as its own process (``python -m jifen.sandbox``), as it would beside a real
deployment; the demo itself sees a ``Payer``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

from jifen.api import create_app
from jifen.app import Context
from jifen.funds import Funds, funds_from_credentials

STARTUP_TIMEOUT_S = 15.0


class SandboxPayer:
    """What the demo asks of the provider's side: move its clock, have a customer pay, top a
    merchant's balance up (a merchant's own money, for refunds)."""

    def __init__(self, control_url: str, funds: Funds, sp: str) -> None:
        self.control_url, self.funds, self.sp = control_url.rstrip("/"), funds, sp

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.control_url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            found: dict[str, Any] = json.loads(answer.read() or b"{}")
            return found

    def set_time(self, when: datetime) -> None:
        self._call("PUT", "/clock", {"now": when.isoformat()})

    def pay(self, out_trade_no: str) -> None:
        self._call("POST", "/pay", {"out_trade_no": out_trade_no})

    def open_account(self, name: str) -> str:
        """A new sub-merchant account (特约商户) for a demo merchant; returns its mchid."""
        created = self._call(
            "POST",
            "/merchants",
            {"name": name, "kind": "sub_merchant", "role": "merchant", "sp_mchid": self.sp},
        )
        return str(created["mchid"])

    def top_up(self, account: str, fen: int) -> None:
        self._call("POST", f"/merchants/{account}/top-up", {"amount": fen})


@contextmanager
def _sandbox_process(state_dir: Path, start: datetime) -> Iterator[dict[str, Any]]:
    """``python -m jifen.sandbox`` in a process of its own (on the other core: the demo, Jifen's
    notification route and the sandbox would otherwise share one interpreter lock), on a frozen
    clock at ``start``; yields its credentials once it answers."""
    command = [
        sys.executable,
        "-m",
        "jifen.sandbox",
        "--state",
        str(state_dir),
        "--port",
        "0",
        "--frozen",
        "--clock-start",
        start.isoformat(),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        creds_path = state_dir / "credentials.json"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the sandbox provider stopped: {process.stderr.read()[-500:]}")  # type: ignore[union-attr]
            if creds_path.exists() and (creds := _ready(creds_path)) is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox provider did not start")
            time.sleep(0.05)
        yield creds
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _ready(creds_path: Path) -> dict[str, Any] | None:
    try:
        creds: dict[str, Any] = json.loads(creds_path.read_text(encoding="utf-8"))
        with urllib.request.urlopen(f"{creds['control_url']}/clock", timeout=2):
            return creds
    except (OSError, ValueError, KeyError):
        return None


@contextmanager
def sandbox_payer(ctx: Context, state_dir: Path, start: datetime) -> Iterator[SandboxPayer]:
    """The sandbox on a fresh state directory and Jifen's notification route, both on loopback,
    until the demo is done."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    notify_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/providers/wechatpay/notify"
    with _sandbox_process(state_dir, start) as creds:
        funds = funds_from_credentials(state_dir / "credentials.json", notify_url)
        config = uvicorn.Config(create_app(ctx, funds=funds), log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the demo's notification route did not start")
                time.sleep(0.01)
            yield SandboxPayer(str(creds["control_url"]), funds, str(creds["mchid"]))
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            sock.close()
