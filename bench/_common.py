"""What the benchmarks share: progress lines, the machine and code they ran on, scratch databases
on the PostgreSQL server under test, the pgbench yardstick, and servers started on the loopback
(ready when ``/healthz`` answers, always stopped).

Each benchmark reports its figures next to pgbench's on the same server in the same run, so a
figure means something on any machine; the helpers here make sure every benchmark measures
pgbench the same way and says the same things about where it ran.
"""

from __future__ import annotations

import os
import sys

# bench/http.py shares this folder, and a script's folder comes first on sys.path: the standard
# library's http package (http.client below; uvicorn, httpx and the CLI import it too) would be
# that file. Every benchmark imports this module before anything of Jifen's, so the folder moves
# to the end of the path here, where this module's siblings are still found.
sys.path.sort(
    key=lambda entry: os.path.realpath(entry or ".") == os.path.dirname(os.path.realpath(__file__))
)

import http.client
import json
import platform
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 30.0
PGBENCH = {"scale": 10, "clients": 4, "threads": 2, "seconds": 20, "quick_seconds": 5}
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
OTHER_SESSIONS_SQL = (
    "SELECT count(*) - 1 FROM pg_stat_activity WHERE backend_type = 'client backend'"
)
"""Client sessions besides our own: others' load skews every figure, so the report says so."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """CPUs, Python, platform and the load average now (the caller adds ``loadavg_at_end``)."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": loadavg(),
    }


def code_version() -> str:
    """The commit measured (``-dirty`` if src has uncommitted edits): the code moves fast."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True)
        return run.stdout.decode().strip()

    try:
        return git("rev-parse", "--short", "HEAD") + (
            "-dirty" if git("status", "-s", "--", ":/src") else ""
        )
    except OSError:
        return "unknown"


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))], 2)


# -- PostgreSQL housekeeping -----------------------------------------------------------------------


def dsn(url: URL) -> str:
    """A libpq connection string for psycopg (SQLAlchemy's ``+psycopg`` driver name removed)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def admin_sql(admin: URL, sql: str) -> list[Any]:
    """Run one statement in autocommit on the admin database (CREATE/DROP DATABASE need it)."""
    import psycopg

    with psycopg.connect(dsn(admin), autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def fresh_database(admin: URL, name: str) -> str:
    admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(admin, f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(admin: URL, name: str) -> None:
    admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def checkpoint(admin: URL) -> None:
    """Flush dirty pages first, so no run pays for the previous one's checkpoint."""
    try:
        admin_sql(admin, "CHECKPOINT")
    except Exception as exc:  # needs superuser; the run is still valid without it
        log(f"CHECKPOINT skipped: {exc}")


def server_facts(admin: URL) -> dict[str, Any]:
    """The server's version and how many other client sessions it has right now."""
    return {
        "server_version": admin_sql(admin, "SHOW server_version")[0][0],
        "other_sessions_at_start": admin_sql(admin, OTHER_SESSIONS_SQL)[0][0],
    }


def run_pgbench(admin: URL, name: str, seconds: int) -> dict[str, Any]:
    """pgbench -i -s 10, then the TPC-B-like run; tps is the figure without connection time."""
    env = {**os.environ, "PGHOST": admin.host or "127.0.0.1", "PGPORT": str(admin.port or 5432)}
    env |= {"PGUSER": admin.username or "postgres", "PGCONNECT_TIMEOUT": "5"}
    if admin.password:
        env["PGPASSWORD"] = str(admin.password)
    fresh_database(admin, name)
    init = ["pgbench", "-i", "-q", "-s", str(PGBENCH["scale"]), name]
    subprocess.run(init, env=env, check=True, capture_output=True, text=True, timeout=600)
    checkpoint(admin)
    c, j = PGBENCH["clients"], PGBENCH["threads"]
    cmd = ["pgbench", "-c", str(c), "-j", str(j), "-T", str(seconds), name]
    out = subprocess.run(
        cmd, env=env, check=True, capture_output=True, text=True, timeout=seconds + 120
    ).stdout
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if not found:
        raise RuntimeError(f"no tps line in pgbench output:\n{out}")
    return {"command": " ".join(cmd), "init": " ".join(init), "tps": round(float(found[1]), 1)}


# -- servers on the loopback -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(port: int, method: str, path: str, token: str | None, body: Any = None) -> Any:
    """One request on its own connection; the JSON answer, or RuntimeError unless it is 2xx."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if method != "GET":
        headers["Idempotency-Key"] = f"setup-{uuid.uuid4().hex}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request(method, path, body=data, headers=headers)
        answer = conn.getresponse()
        raw = answer.read()
    finally:
        conn.close()
    if not 200 <= answer.status < 300:
        raise RuntimeError(f"{method} {path}: {answer.status} {raw[:500]!r}")
    return json.loads(raw) if raw else None


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def running(
    name: str, cmd: list[str], env: dict[str, str], port: int, log_path: Path
) -> Iterator[None]:
    """Start a server in a session of its own, wait for ``/healthz``, and always stop it.

    Its own session (process group) so that its workers, if any, stop with it, and so that
    Ctrl-C reaches this script, which then stops it, rather than the server directly."""
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{tail(log_path)}")
            try:
                call(port, "GET", "/healthz", None)
                break
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready in time:\n{tail(log_path)}") from None
                time.sleep(0.2)
        yield
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is not gone in time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
        with suppress(ProcessLookupError):  # the leader is gone; so goes any straggler
            os.killpg(proc.pid, signal.SIGKILL)
        return


def drop_quietly(admin: URL, name: str) -> None:
    try:
        drop_database(admin, name)
    except Exception as exc:  # cleanup must not hide the error that brought us here
        log(f"could not drop {name}: {exc}")
