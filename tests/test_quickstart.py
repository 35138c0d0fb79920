"""The README's quickstart, as written, composes (issue 12): in a fresh virtual environment its
first command builds the demo; `jifen serve` on the demo's store then runs its daily jobs on the
real clock and leaves the outstanding points and the reserve exactly as the demo left them (no
month of simulated days closed at once, no point expired at the hand-over).

The command is read from README.md and run as written, by a shell, from a copy of this folder.
Only its size is turned down, through the demo's own environment variables (`JIFEN_DEMO_ORDERS`,
`JIFEN_DEMO_MEMBERS`; `jifen demo --help`), so that pip and the demo fit in a few minutes."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
QUICKSTART_TIMEOUT_S = 900
TICK_TIMEOUT_S = 60.0
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    "jifen.db*", ".hypothesis",
)  # fmt: skip


def quickstart_commands() -> list[str]:
    """The shell blocks of the README's Quickstart section, each as its text."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_the_quickstart_is_two_commands_one_demo_one_suite() -> None:
    demo, suite, *_ = quickstart_commands()
    assert demo.count("\n") == 0 and "jifen demo" in demo
    assert suite.count("\n") == 0 and "python -m pytest" in suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_past_shanghai_midnight() -> None:
    """A run that straddles Shanghai midnight would rightly close the day that ended and expire
    what expired at midnight; such a run starts just after it instead (bounded wait)."""
    now = datetime.now(SHANGHAI)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), SHANGHAI)
    if midnight - now < timedelta(minutes=15):
        time.sleep((midnight - now).total_seconds() + 5)


def _books(jifen: Path, cwd: Path, env: dict[str, str]) -> dict[str, int]:
    result = subprocess.run(
        [str(jifen), "verify", "--json"], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    totals: dict[str, int] = json.loads(result.stdout)["totals"]
    return totals


def _reader(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


@pytest.mark.slow
def test_the_readme_quickstart_then_serve_keeps_the_demo_books(tmp_path: Path) -> None:
    _wait_past_shanghai_midnight()
    folder = tmp_path / "jifen"
    shutil.copytree(ROOT, folder, ignore=COPY_IGNORE)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIFEN_", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        JIFEN_DEMO_ORDERS="300",
        JIFEN_DEMO_MEMBERS="30",
        JIFEN_OPERATOR_KEY="jfo_quickstart-0123456789abcdef",
    )
    demo_command = quickstart_commands()[0]
    built = subprocess.run(
        ["bash", "-c", f"set -e; {demo_command}"], cwd=folder, env=env, capture_output=True,
        text=True, timeout=QUICKSTART_TIMEOUT_S,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "校验通过 verified" in built.stdout
    assert "the store now runs on the real clock" in built.stderr
    jifen = venv / "bin" / "jifen"
    before = _books(jifen, folder, env)
    assert before["expired"] > 0 and before["pending"] > 0  # both could change at a hand-over

    server = subprocess.Popen(
        [str(jifen), "serve", "--port", str(_free_port()), "--jobs-every", "1"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(server.stderr, lines), daemon=True).start()
    said, runs = [], []
    try:
        deadline = time.monotonic() + TICK_TIMEOUT_S
        while len(runs) < 2:  # the run at start, then one tick of the schedule
            assert time.monotonic() < deadline, "no scheduler tick: " + "".join(said[-20:])
            assert server.poll() is None, "jifen serve stopped: " + "".join(said[-20:])
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            said.append(line)
            if line.startswith("{") and json.loads(line).get("msg") == "jobs run":
                runs.append(json.loads(line))
    finally:
        server.terminate()
        server.wait(timeout=30)
    banner = "".join(said)
    assert "时钟 clock: real" in banner and "日终任务 daily jobs: every 1 s" in banner
    assert "账本 store: sqlite:///./jifen.db" in banner
    assert [r["days"] for r in runs] == [[], []]  # nothing left to close: the demo ends today
    after = _books(jifen, folder, env)
    assert after["outstanding"] == before["outstanding"]
    assert (after["reserve_fen"], after["liability_fen"]) == (
        before["reserve_fen"],
        before["liability_fen"],
    )
    assert after["expired"] == before["expired"]
