"""HTTP order benchmark: ``POST /v1/orders`` on ``jifen serve`` over PostgreSQL, with the
framework ceiling and pgbench as yardsticks in the same run (issue 11).

    python bench/http.py [--pg URL] [--seconds N] [--quick] [--workers N] [--serve-arg ARG]...

Prints one JSON document on stdout (progress goes to stderr). It starts ``jifen serve`` on a
scratch database, sets the alliance up over the API as an operator would (rules published, a
merchant onboarded, a pool of members enrolled), then drives it with wrk (``bench/orders.lua``:
every request a fresh order with its own Idempotency-Key) at 16 and 64 connections, a warm-up
then a measured window each. The same wrk script at the same connections then hits the framework
ceiling (``bench/ceiling_app.py``: FastAPI + pydantic + one INSERT per request) on a scratch
database of its own, and pgbench runs on a third. Jifen's orders/s is reported as a ratio to
both, with the issue's target. Scratch databases are dropped and servers stopped in any case,
Ctrl-C included. It reports; it never asserts. docs/benchmark.md explains the figures.
"""

from __future__ import annotations

import os
import sys

# This file is named http.py: with its folder first on sys.path it would stand in for the
# standard library's http package in anything imported here that uses it (urllib, http.client).
# The folder goes to the end of the path, where _common is still found (it does the same).
sys.path.sort(
    key=lambda entry: os.path.realpath(entry or ".") == os.path.dirname(os.path.realpath(__file__))
)

import argparse
import importlib.util
import json
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from _common import (
    DEFAULT_ADMIN_URL,
    PGBENCH,
    call,
    checkpoint,
    code_version,
    drop_quietly,
    dsn,
    free_port,
    fresh_database,
    loadavg,
    log,
    machine_info,
    run_pgbench,
    running,
    server_facts,
)

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "orders.lua"
CONNECTIONS = (16, 64)
WRK_THREADS = 2
WRK_TIMEOUT_S = 10
"""wrk counts a request slower than this as a timeout (its default, 2 s, would call a slow but
successful order an error)."""
TARGET = {"connections": 64, "min_ratio_to_ceiling": 0.5, "max_p99_ms": 250.0}
"""Issue 11: at 64 connections, Jifen's orders/s ≥ 0.5× the ceiling's, with p99 < 250 ms."""
MEMBERS, QUICK_MEMBERS = 1000, 200
ENROL_THREADS = 4
RULES: dict[str, Any] = {
    "title_zh": "基准测试积分规则",
    "notice_days": 30,
    "earn": {"points_per_yuan": 1},
    "pending": {"return_window_days": 7},
    "expiry": {"policy": "rolling", "months": 24},
    "redemption": {"min_points": 1, "max_order_share_bp": 5_000},
}
"""1 point per yuan and no daily cap: every order of 10–1,000 yuan earns, however many a member
gets in a run (a cap reached would turn orders into cheap no-point answers)."""
KYC = {"legal_name": "基准测试商贸有限公司", "licence_no": "91310000MA1FL0TEST"}
MERCHANT_ID = "bench-cafe"


# -- load ------------------------------------------------------------------------------------------


def run_wrk(port: int, connections: int, seconds: int, tag: str, key: str, members: Path) -> Any:
    """One wrk run of ``orders.lua``; its ``done()`` line, summarised."""
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s"]
    cmd += ["--timeout", f"{WRK_TIMEOUT_S}s", "-s", str(LUA), f"http://127.0.0.1:{port}"]
    env = {**os.environ, "JIFEN_BENCH_KEY": key, "JIFEN_BENCH_MEMBERS": str(members)}
    env |= {"JIFEN_BENCH_TAG": tag, "JIFEN_BENCH_PAID_AT": datetime.now(UTC).isoformat()}
    done = subprocess.run(
        cmd, env=env, capture_output=True, text=True, errors="replace", timeout=seconds + 60
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("JIFEN_WRK ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    raw = json.loads(line.removeprefix("JIFEN_WRK "))
    duration_s = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["non2xx"]
    ms = {name: round(us / 1000, 2) for name, us in raw["latency_us"].items()}
    return {
        "connections": connections,
        "seconds": round(duration_s, 2),
        "requests": raw["requests"],
        "orders": ok,
        "orders_per_s": round(ok / duration_s, 1),
        "requests_per_s": round(raw["requests"] / duration_s, 1),
        "p50_ms": ms["p50"],
        "p90_ms": ms["p90"],
        "p99_ms": ms["p99"],
        "max_ms": ms["max"],
        "non2xx": raw["non2xx"],
        "socket_errors": raw["socket_errors"],
        **({"non2xx_by_status": raw["non2xx_by_status"]} if raw["non2xx"] else {}),
        **({"sample_non2xx": raw["sample_non2xx"]} if raw["sample_non2xx"] else {}),
    }


def measure(port: int, key: str, members: Path, label: str, args: argparse.Namespace) -> Any:
    """For each connection count: a warm-up run (discarded), then the measured run."""
    rows = []
    for c in args.connections:
        log(f"{label}: {c} connections, {args.warmup}s warm-up + {args.seconds}s")
        run_wrk(port, c, args.warmup, f"{label}{c}w", key, members)
        rows.append(run_wrk(port, c, args.seconds, f"{label}{c}m", key, members))
        r = rows[-1]
        log(f"  → {r['orders_per_s']} orders/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
    return rows


# -- Jifen -----------------------------------------------------------------------------------------


def open_alliance_over_http(port: int, operator_key: str, members: int) -> tuple[str, list[str]]:
    """Rules in force, one merchant and ``members`` members, all through the API; the merchant's
    API key and the member ids."""
    effective_at = datetime.now(UTC) + timedelta(seconds=2)  # not before publication
    draft = call(port, "POST", "/v1/rules/drafts", operator_key, RULES)
    publish = {"effective_at": effective_at.isoformat(), "reason": "基准测试 benchmark"}
    call(port, "POST", f"/v1/rules/versions/{draft['number']}/publish", operator_key, publish)
    merchant = {"merchant_id": MERCHANT_ID, "name": "基准咖啡", "category": "cafe", "kyc": KYC}
    merchant_key = call(port, "POST", "/v1/merchants", operator_key, merchant)["api_key"]
    consents = {"terms": True, "privacy": True}

    def enrol(n: int) -> str:
        body = {"phone": f"139{n:08d}", "consents": consents}
        return str(call(port, "POST", "/v1/members", operator_key, body)["member_id"])

    with ThreadPoolExecutor(ENROL_THREADS) as pool:
        member_ids = list(pool.map(enrol, range(members)))
    time.sleep(max(0.0, (effective_at - datetime.now(UTC)).total_seconds() + 0.5))
    return merchant_key, member_ids


def serve_options() -> list[str]:
    """The options this checkout's ``jifen serve`` takes (``--workers`` may or may not be one)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    cmd = [sys.executable, "-m", "jifen", "serve", "--help"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60).stdout
    return sorted(set(re.findall(r"--[a-z][a-z0-9-]*", out)) - {"--help"})


def serve_args(args: argparse.Namespace, supported: list[str]) -> list[str]:
    """Jobs off (a job run inside a window would skew it), ``--workers`` when given and
    supported, then the caller's ``--serve-arg``s (last, so they can override ours)."""
    chosen = ["--jobs-every", "0"] if "--jobs-every" in supported else []
    if args.workers is not None:
        if "--workers" in supported:
            chosen += ["--workers", str(args.workers)]
        else:
            log("jifen serve has no --workers here: running with its default")
    return chosen + list(args.serve_arg)


Hook = Callable[[str], dict[str, Any]]
"""Given the scratch database's URL, do something to it and say what (bench/scale.py)."""


def jifen_part(
    admin: URL,
    args: argparse.Namespace,
    tmp: Path,
    members: Path,
    *,
    preload: Hook | None = None,
    after: Hook | None = None,
) -> Any:
    """``jifen serve`` on a scratch database: set up over the API, then the wrk runs.
    ``preload`` runs once the alliance is set up, before the runs; ``after`` once the server
    has stopped, before the database is dropped."""
    name = f"jifen_bench_http_{os.getpid()}"
    supported = serve_options()
    extra = serve_args(args, supported)
    operator_key = "jfo_" + secrets.token_urlsafe(32)
    env = {**os.environ, "JIFEN_SECRET": secrets.token_urlsafe(32)}
    env["JIFEN_OPERATOR_KEY"] = operator_key
    part: dict[str, Any] = {
        "server": {
            "command": "jifen serve",
            "args": extra,
            "workers": args.workers if "--workers" in extra else None,
            "workers_supported": "--workers" in supported,
            "options_supported": supported,
        }
    }
    try:
        url = fresh_database(admin, name)
        port = free_port()
        cmd = [sys.executable, "-m", "jifen", "serve", "--db", url, "--host", "127.0.0.1"]
        cmd += ["--port", str(port), *extra]
        with running("jifen serve", cmd, env, port, tmp / "jifen-serve.log"):
            began = time.monotonic()
            merchant_key, member_ids = open_alliance_over_http(port, operator_key, args.members)
            part["setup_s"] = round(time.monotonic() - began, 1)
            log(f"  alliance set up over HTTP in {part['setup_s']} s ({args.members} members)")
            members.write_text("\n".join(member_ids) + "\n")
            if preload is not None:
                part["preload"] = preload(url)
            checkpoint(admin)
            part["orders"] = measure(port, merchant_key, members, "jifen", args)
        if after is not None:
            part["after"] = after(url)
        return part
    finally:
        drop_quietly(admin, name)


# -- the yardsticks --------------------------------------------------------------------------------


def ceiling_part(admin: URL, args: argparse.Namespace, tmp: Path, members: Path) -> Any:
    """``bench/ceiling_app.py`` under uvicorn on a scratch database, the same wrk runs."""
    name = f"jifen_bench_ceiling_{os.getpid()}"
    if not members.exists():  # Jifen's part failed before enrolling: any ids will do here
        members.write_text("".join(f"m{n:015x}\n" for n in range(args.members)))
    from ceiling_app import POOL_MAX, POOL_MIN  # fails here, plainly, without psycopg-pool

    workers = ["--workers", str(args.ceiling_workers)]
    server = {"command": "uvicorn ceiling_app:app", "args": workers, "pool": [POOL_MIN, POOL_MAX]}
    part: dict[str, Any] = {"server": server}
    try:
        url = make_url(fresh_database(admin, name))
        port, key = free_port(), secrets.token_urlsafe(24)
        env = {**os.environ, "JIFEN_CEILING_DB": dsn(url), "JIFEN_CEILING_KEY": key}
        app_dir = tmp / "ceiling"  # a folder of its own: bench/ also holds this http.py
        app_dir.mkdir(exist_ok=True)
        (app_dir / "ceiling_app.py").symlink_to(BENCH / "ceiling_app.py")
        cmd = [sys.executable, "-m", "uvicorn", "ceiling_app:app", "--app-dir", str(app_dir)]
        cmd += ["--host", "127.0.0.1", "--port", str(port), *workers]
        cmd += ["--no-access-log", "--log-level", "warning"]
        with running("ceiling app", cmd, env, port, tmp / "ceiling.log"):
            checkpoint(admin)
            part["orders"] = measure(port, key, members, "ceiling", args)
        return part
    finally:
        drop_quietly(admin, name)


def pgbench_part(admin: URL, quick: bool) -> Any:
    name = f"jifen_bench_http_pgbench_{os.getpid()}"
    seconds = PGBENCH["quick_seconds"] if quick else PGBENCH["seconds"]
    log(f"pgbench -i -s {PGBENCH['scale']}, then -T {seconds}")
    try:
        result = run_pgbench(admin, name, seconds)
        log(f"  → pgbench {result['tps']} tps")
        return result
    finally:
        drop_quietly(admin, name)


def compare(report: dict[str, Any]) -> None:
    """Jifen ÷ ceiling and ÷ pgbench per connection count, and the issue's target."""
    jifen = report["jifen"].get("orders", [])
    ceiling = {r["connections"]: r for r in report["ceiling"].get("orders", [])}
    tps = report["pgbench"].get("tps")
    rows = []
    for r in jifen:
        top = ceiling.get(r["connections"], {}).get("orders_per_s")
        rows.append(
            {
                "connections": r["connections"],
                "orders_per_s": r["orders_per_s"],
                "p99_ms": r["p99_ms"],
                "ceiling_orders_per_s": top,
                "ratio_to_ceiling": round(r["orders_per_s"] / top, 3) if top else None,
                "pgbench_tps": tps,
                "ratio_to_pgbench": round(r["orders_per_s"] / tps, 3) if tps else None,
            }
        )
    report["vs_baselines"] = rows
    at = next((r for r in rows if r["connections"] == TARGET["connections"]), None)
    target: dict[str, Any] = dict(TARGET)
    if at is None or at["ratio_to_ceiling"] is None:
        target["meets_target"] = None  # not measured in this run
    else:
        target["ratio_to_ceiling"], target["p99_ms"] = at["ratio_to_ceiling"], at["p99_ms"]
        target["meets_ratio"] = at["ratio_to_ceiling"] >= TARGET["min_ratio_to_ceiling"]
        target["meets_p99"] = at["p99_ms"] < TARGET["max_p99_ms"]
        target["meets_target"] = target["meets_ratio"] and target["meets_p99"]
    report["target"] = target


# -- the run ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="POST /v1/orders on jifen serve over PostgreSQL, beside the framework "
        "ceiling and pgbench in the same run; prints JSON (docs/benchmark.md)"
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("JIFEN_BENCH_PG", DEFAULT_ADMIN_URL),
        help="admin connection to the server under test",
    )
    parser.add_argument("--seconds", type=int, default=None, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up seconds per run")
    parser.add_argument("--quick", action="store_true", help="3 s runs, pgbench -T 5")
    parser.add_argument("--members", type=int, default=None, help="size of the member pool")
    parser.add_argument("--connections", default=",".join(map(str, CONNECTIONS)), help="e.g. 16,64")
    parser.add_argument("--workers", type=int, default=None, help="jifen serve --workers N")
    parser.add_argument("--ceiling-workers", type=int, default=1, help="uvicorn workers")
    parser.add_argument(
        "--serve-arg", action="append", default=[], metavar="ARG",
        help="one more argument for jifen serve (repeat it; --serve-arg=--opt for a dash)",
    )  # fmt: skip
    args = parser.parse_args()
    args.seconds = max(1, args.seconds or (3 if args.quick else 15))
    args.warmup = max(1, args.warmup or (2 if args.quick else 5))
    args.members = max(1, args.members or (QUICK_MEMBERS if args.quick else MEMBERS))
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    return args


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.stdout or out.stderr else ""


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "connections": args.connections,
        "wrk_threads": WRK_THREADS,
        "wrk_timeout_s": WRK_TIMEOUT_S,
        "wrk": wrk_version(),
        "warmup_s": args.warmup,
        "seconds": args.seconds,
        "members": args.members,
        "rules": "1 point per yuan, no daily cap; orders of 1,000–100,000 fen",
        "uvloop": importlib.util.find_spec("uvloop") is not None,
        "httptools": importlib.util.find_spec("httptools") is not None,
        "quick": args.quick,
    }


def run(args: argparse.Namespace, admin: URL, report: dict[str, Any]) -> None:
    """The three parts in turn; a failed part is reported and the others still run."""
    with tempfile.TemporaryDirectory(prefix="jifen-bench-http-") as tmp:
        members = Path(tmp) / "members.txt"
        for key, part in (("jifen", jifen_part), ("ceiling", ceiling_part)):
            try:
                report[key] = part(admin, args, Path(tmp), members)
            except Exception as exc:
                log(f"{key} part failed: {exc}")
                report[key] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        report["pgbench"] = pgbench_part(admin, args.quick)
    except Exception as exc:  # e.g. pgbench not installed: keep the HTTP figures
        report["pgbench"] = {"error": f"{type(exc).__name__}: {exc}"}
    compare(report)


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("bench/http.py: wrk not found; install it: apt-get install wrk", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally blocks clean up
    admin = make_url(args.pg)
    report: dict[str, Any] = {
        "benchmark": "jifen HTTP orders (POST /v1/orders)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "code": code_version(),
        "settings": settings(args),
    }
    log(f"PostgreSQL at {admin.render_as_string(hide_password=True)}")
    try:
        report["postgresql"] = server_facts(admin)
        report["machine"]["postgres_server_version"] = report["postgresql"]["server_version"]
        run(args, admin, report)
    except KeyboardInterrupt:
        log("interrupted: servers stopped, scratch databases dropped")
        return 130
    except Exception as exc:  # unreachable server: say so in the JSON
        log(f"benchmark failed: {exc}")
        report["error"] = f"{type(exc).__name__}: {exc}"
    report["machine"]["loadavg_at_end"] = loadavg()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
