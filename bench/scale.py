"""Scale benchmark: HTTP orders on an empty ledger and on one pre-loaded with 1,000,000 members
and 10,000,000 journal entries, and ``jifen verify``'s time and peak memory on the big one
(issue 11, item 6).

    python bench/scale.py [--pg URL] [--members N] [--entries N] [--seconds N] [--quick]

Prints one JSON document on stdout (progress on stderr). Each half is bench/http.py's Jifen
part: ``jifen serve`` on a scratch database, the alliance set up over the API, then wrk at 16 and
64 connections. For the second half, once the alliance is set up, ``--entries`` earns for
``--members`` members are loaded by the ledger's bulk path (``Ledger.submit_batch``, batches of
1,000, from writer processes: the path a provider's notification backlog takes, not HTTP) and the
member rows by COPY; then the same measurement; then, with the server stopped, ``jifen verify``
runs on it in a process of its own, which reports its wall time and peak resident memory.
It reports; it never asserts. docs/benchmark.md explains the figures.
"""

from __future__ import annotations

import os
import sys

# bench/http.py shadows the standard library's http package from this folder: put it last
sys.path.sort(
    key=lambda entry: os.path.realpath(entry or ".") == os.path.dirname(os.path.realpath(__file__))
)

import argparse
import hashlib
import importlib.util
import json
import multiprocessing as mp
import queue
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from _common import code_version, dsn, loadavg, log, machine_info, server_facts

BENCH = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_http", BENCH / "http.py")
assert _spec is not None and _spec.loader is not None
bench_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_http)

MEMBERS, ENTRIES = 1_000_000, 10_000_000
QUICK_MEMBERS, QUICK_ENTRIES = 10_000, 100_000
BATCH = 1000
LOADERS = 3
"""Writer processes for the bulk load: PostgreSQL and the loaders share the two cores."""
LOAD_TIMEOUT_S = 4 * 3600
VERIFY_TIMEOUT_S = 3 * 3600
TARGET = {"min_ratio_loaded_to_empty": 0.8, "max_verify_peak_mib": 1024}
"""Issue 11: on the 10M-entry ledger, HTTP rate ≥ 0.8× the empty one; verify under 1 GiB."""
VERIFY = """
import json, resource, sys, time
from jifen.cli import main
began = time.perf_counter()
sys.argv = ["jifen", "verify", "--db", sys.argv[1], "--json"]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("JIFEN_VERIFY " + json.dumps({"exit": code, "seconds": round(time.perf_counter() - began, 1),
      "peak_rss_mib": round(peak_kib / 1024, 1)}), file=sys.stderr)
"""


def loader(url: str, index: int, members: int, batches: range, done: Any) -> None:
    """Earns in batches of ``BATCH`` for members ``s0000000…``, round robin, so every member
    of the pool has lots; reports each committed batch."""
    try:
        from jifen.ledger import Earn, Ledger

        ledger = Ledger.open(url)
        ledger.open_merchant(bench_http.MERCHANT_ID)
        paid = datetime.now(UTC) - timedelta(days=1)
        for n in batches:
            ops = [
                Earn(
                    key=f"scale:{n}:{i}",
                    member_id=f"s{(n * BATCH + i) % members:07d}",
                    merchant_id=bench_http.MERCHANT_ID,
                    order_ref=f"scale-{n}-{i}",
                    amount_fen=1_000 + (n * 7 + i) % 99_000,
                    points=10 + (n * 7 + i) % 990,
                    rule_version=1,
                    paid_at=paid,
                    release_at=paid + timedelta(days=7),
                    expires_at=paid + timedelta(days=730),
                )
                for i in range(BATCH)
            ]
            ledger.submit_batch(ops, paid + timedelta(seconds=1))
            done.put((index, 1, None))
        ledger.engine.dispose()
    except Exception as exc:  # reported, never fatal to the run
        done.put((index, 0, f"{type(exc).__name__}: {exc}"))


def copy_members(url: str, members: int) -> None:
    """The member rows, as enrolment writes them (a keyed phone hash, a sealed phone); the
    phones are synthetic and never decrypted here."""
    now = datetime.now(UTC)
    columns = "member_id, phone_lookup, phone_sealed, created_at"
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY members ({columns}) FROM STDIN") as cp,
    ):
        for m in range(members):
            member_id = f"s{m:07d}"
            lookup = hashlib.sha256(member_id.encode()).hexdigest()
            cp.write_row((member_id, lookup, "bench-synthetic", now))


def preload(members: int, entries: int) -> bench_http.Hook:
    def run(url: str) -> dict[str, Any]:
        plain = dsn(make_url(url))  # for psycopg, and for Ledger.open alike
        began = time.monotonic()
        copy_members(plain, members)
        log(f"  {members:,} member rows in {time.monotonic() - began:.0f} s; loading entries")
        total = entries // BATCH
        ctx = mp.get_context("spawn")
        done = ctx.Queue()
        procs = [
            ctx.Process(target=loader, args=(plain, w, members, range(w, total, LOADERS), done))
            for w in range(LOADERS)
        ]
        for p in procs:
            p.start()
        loaded, errors, deadline = 0, [], time.monotonic() + LOAD_TIMEOUT_S
        while loaded < total and time.monotonic() < deadline and not errors:
            try:
                _, n, error = done.get(timeout=60)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            loaded += n
            if error:
                errors.append(error)
            if loaded and loaded % 500 == 0:
                rate = loaded * BATCH / (time.monotonic() - began)
                log(f"  {loaded * BATCH:,} entries ({rate:,.0f}/s)")
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        seconds = time.monotonic() - began
        return {
            "members": members,
            "entries": loaded * BATCH,
            "seconds": round(seconds, 1),
            "entries_per_s": round(loaded * BATCH / seconds, 1),
            "database_mib": round(size[0] / 2**20) if size else None,
            "errors": errors,
        }

    return run


def verify_run(url: str) -> dict[str, Any]:
    log("  jifen verify on the loaded ledger")
    done = subprocess.run(
        [sys.executable, "-c", VERIFY, url],
        capture_output=True,
        text=True,
        timeout=VERIFY_TIMEOUT_S,
    )
    line = next((x for x in done.stderr.splitlines() if x.startswith("JIFEN_VERIFY ")), None)
    result: dict[str, Any] = json.loads(line.removeprefix("JIFEN_VERIFY ")) if line else {}
    try:
        report = json.loads(done.stdout)
        result |= {"ok": report.get("ok"), "blocks": report.get("blocks")}
        result |= {"entries": report.get("entries"), "findings": report.get("findings", [])[:3]}
    except json.JSONDecodeError:
        result["output"] = (done.stdout + done.stderr)[-2000:]
    log(f"  → {result.get('seconds')} s, peak {result.get('peak_rss_mib')} MiB")
    return result


def compare(report: dict[str, Any]) -> None:
    empty = {r["connections"]: r for r in report["empty"].get("orders", [])}
    rows = []
    for r in report["loaded"].get("orders", []):
        base = empty.get(r["connections"], {}).get("orders_per_s")
        rows.append(
            {
                "connections": r["connections"],
                "empty_orders_per_s": base,
                "loaded_orders_per_s": r["orders_per_s"],
                "ratio": round(r["orders_per_s"] / base, 3) if base else None,
            }
        )
    report["loaded_vs_empty"] = rows
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    peak = report["loaded"].get("after", {}).get("peak_rss_mib")
    report["target"] = {
        **TARGET,
        "meets_ratio": min(ratios) >= TARGET["min_ratio_loaded_to_empty"] if ratios else None,
        "meets_verify_memory": peak < TARGET["max_verify_peak_mib"] if peak else None,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--pg", default=os.environ.get("JIFEN_BENCH_PG", bench_http.DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--members", type=int, default=None, help=f"default {MEMBERS:,}")
    parser.add_argument("--entries", type=int, default=None, help=f"default {ENTRIES:,}")
    parser.add_argument("--seconds", type=int, default=None, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="10,000 members, 100,000 entries")
    parser.add_argument("--workers", type=int, default=None, help="jifen serve --workers N")
    args = parser.parse_args()
    args.members = args.members or (QUICK_MEMBERS if args.quick else MEMBERS)
    args.entries = args.entries or (QUICK_ENTRIES if args.quick else ENTRIES)
    args.seconds = max(1, args.seconds or (3 if args.quick else 15))
    args.warmup = max(1, args.warmup or (2 if args.quick else 5))
    args.connections = list(bench_http.CONNECTIONS)
    args.serve_arg = []
    args.pool = QUICK_MEMBERS // 50 if args.quick else bench_http.MEMBERS  # enrolled over HTTP
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    admin = make_url(args.pg)
    report: dict[str, Any] = {
        "benchmark": "jifen HTTP orders, empty vs pre-loaded ledger; verify at scale",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "code": code_version(),
        "settings": {"members": args.members, "entries": args.entries, "batch": BATCH,
                     "loaders": LOADERS, "seconds": args.seconds, "warmup_s": args.warmup,
                     "connections": args.connections, "workers": args.workers},
    }  # fmt: skip
    report["postgresql"] = server_facts(admin)
    http_args = argparse.Namespace(**{**vars(args), "members": args.pool})
    with tempfile.TemporaryDirectory(prefix="jifen-bench-scale-") as tmp:
        pool = Path(tmp) / "members.txt"
        log("empty ledger")
        report["empty"] = bench_http.jifen_part(admin, http_args, Path(tmp), pool)
        log(f"pre-loaded ledger: {args.members:,} members, {args.entries:,} entries")
        report["loaded"] = bench_http.jifen_part(
            admin, http_args, Path(tmp), pool,
            preload=preload(args.members, args.entries), after=verify_run,
        )  # fmt: skip
    compare(report)
    report["machine"]["loadavg_at_end"] = loadavg()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
