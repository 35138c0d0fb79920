"""``jifen sandbox-provider``: run the local WeChat Pay v3 sandbox until interrupted.

A Typer command (:data:`sandbox_app`, or the plain function :func:`sandbox_provider`) that the
``jifen`` CLI registers; ``python -m jifen.sandbox`` runs the same command on its own.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from jifen.errors import JifenError
from jifen.sandbox._clock import aware
from jifen.sandbox._server import SandboxServer

__all__ = ["main", "sandbox_app", "sandbox_provider"]


def sandbox_provider(
    state: Annotated[
        Path, typer.Option("--state", help="状态目录 state directory: keys, credentials, state")
    ],
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="回环端口 loopback port (0: any)")
    ] = 8571,
    clock_start: Annotated[
        str | None,
        typer.Option(
            help="首次启动时沙箱时钟的起点 first start: the clock's ISO start, with offset"
        ),
    ] = None,
    frozen: Annotated[
        bool, typer.Option("--frozen", help="时钟只在被拨动时前进 the clock moves only when told")
    ] = False,
) -> None:
    """微信支付 v3 沙箱 — a faithful local WeChat Pay v3 stand-in (see docs/sandbox-provider.md)."""
    try:
        start = aware(datetime.fromisoformat(clock_start)) if clock_start else None
    except ValueError as exc:
        raise typer.BadParameter(
            f"须为带时区的 ISO 时间 / an ISO time with offset: {exc}"
        ) from None
    state.mkdir(parents=True, exist_ok=True)
    server = SandboxServer(state, port=port, start=start, running=not frozen).start()
    done = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo(f"sandbox provider on {server.base_url}; credentials: {state / 'credentials.json'}")
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()


sandbox_app = typer.Typer(add_completion=False)
sandbox_app.command("sandbox-provider")(sandbox_provider)


def main() -> None:
    """``python -m jifen.sandbox``: the command alone, refusals as one line and exit code 2."""
    try:
        typer.run(sandbox_provider)
    except JifenError as exc:
        print(f"error[{exc.code}]: {exc.message}", file=sys.stderr)
        sys.exit(2)
