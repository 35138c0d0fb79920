"""Earn-ingestion benchmark for the Jifen ledger, with pgbench as the yardstick (issue 2, item 7).

    python bench/ledger.py [--pg URL] [--seconds N] [--quick]

Prints one JSON document on stdout (progress goes to stderr). For SQLite (a temp file) and for
PostgreSQL (a scratch database created here and dropped at the end) it measures earn events/s and
p50/p99 batch latency at batch sizes 1, 100 and 1000, each with 8 concurrent writers. Writers are
separate processes (spawn), each opening its own ``Ledger``: Python threads would measure the GIL,
not the ledger. Against the same PostgreSQL server it runs pgbench's TPC-B-like test and reports
each PostgreSQL figure as a ratio to pgbench tps, with the issue's targets. It reports; it never
asserts. docs/benchmark.md explains the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from _common import (
    DEFAULT_ADMIN_URL,
    PGBENCH,
    checkpoint,
    code_version,
    drop_database,
    fresh_database,
    loadavg,
    log,
    machine_info,
    percentile,
    run_pgbench,
    server_facts,
)

BATCH_SIZES = (1, 100, 1000)
WRITERS = 8
MEMBER_POOL = 100_000
MERCHANTS = ("cafe", "cinema", "grocer", "fuel", "books")
MAX_BATCHES_PER_WRITER = 1_000_000
"""A count bound beside the time bound, so no loop can run away."""
TARGETS = {1: 0.5, 100: 2.0, 1000: 2.0}
"""Issue 2: batched earn throughput ≥ 2× pgbench tps; batch size 1 with 8 writers ≥ 0.5×."""


# -- one writer process ----------------------------------------------------------------------------


def writer(
    db: str,
    index: int,
    batch_size: int,
    warmup: float,
    seconds: float,
    start: Any,
    results: Any,
) -> None:
    """Submit batches of fresh earns until the window closes; send back (ms, n) per batch.

    Runs in its own process with its own Ledger (and so its own connection). Everyone starts at
    the same barrier; only batches that finish inside the measured window are reported.
    """
    try:
        from jifen.ledger import Earn, Ledger

        ledger = Ledger.open(db)
        rng = random.Random(index)
        start.wait(timeout=120)
        t0 = time.perf_counter()
        measure_from, stop_at = t0 + warmup, t0 + warmup + seconds
        samples: list[tuple[float, int]] = []
        for n in range(MAX_BATCHES_PER_WRITER):
            began = time.perf_counter()
            if began >= stop_at:
                break
            now = datetime.now(UTC)
            ops = []
            for i in range(batch_size):
                fen = rng.randint(100, 100_000)
                ops.append(
                    Earn(
                        key=f"bench:{batch_size}:{index}:{n}:{i}",
                        member_id=f"m{rng.randrange(MEMBER_POOL):06d}",
                        merchant_id=rng.choice(MERCHANTS),
                        order_ref=f"o{index}-{n}-{i}",
                        amount_fen=fen,
                        points=fen // 100,
                        rule_version=1,
                        paid_at=now,
                        release_at=now + timedelta(days=7),
                        expires_at=now + timedelta(days=365),
                    )
                )
            ledger.submit_batch(ops, now)
            done = time.perf_counter()
            if measure_from <= done <= stop_at:
                samples.append(((done - began) * 1000, batch_size))
        ledger.engine.dispose()
        results.put((index, samples, None))
    except Exception as exc:  # reported in the JSON, never fatal to the run
        results.put((index, [], f"{type(exc).__name__}: {exc}"))


def run_config(ctx: Any, db: str, batch_size: int, warmup: float, seconds: float) -> dict[str, Any]:
    """Start WRITERS processes on ``db``, wait for them (bounded), and summarise their samples."""
    start = ctx.Barrier(WRITERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=writer, args=(db, i, batch_size, warmup, seconds, start, results))
        for i in range(WRITERS)
    ]
    for p in procs:
        p.start()
    samples: list[tuple[float, int]] = []
    errors: list[str] = []
    deadline = time.monotonic() + 180 + warmup + seconds
    for _ in range(WRITERS):
        try:
            _, got, error = results.get(timeout=max(1.0, deadline - time.monotonic()))
        except queue.Empty:
            errors.append("a writer did not report before the deadline")
            break
        samples += got
        errors += [error] if error else []
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
            p.join()
    latencies = sorted(ms for ms, _ in samples)
    events = sum(n for _, n in samples)
    return {
        "batch_size": batch_size,
        "writers": WRITERS,
        "seconds": seconds,
        "batches": len(samples),
        "events": events,
        "events_per_s": round(events / seconds, 1),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        **({"errors": errors} if errors else {}),
    }


def prepare(db: str) -> None:
    """Migrate the store and open the merchants before any writer starts (as in production)."""
    from jifen.ledger import Ledger

    ledger = Ledger.open(db)
    for merchant in MERCHANTS:
        ledger.open_merchant(merchant)
    ledger.engine.dispose()


# -- the run ---------------------------------------------------------------------------------------


def run_backend(ctx: Any, fresh: Callable[[], str], warmup: float, seconds: float) -> list[Any]:
    """Each batch size on a store of its own (``fresh()``), so no run inherits another's rows."""
    results = []
    for size in BATCH_SIZES:
        db = fresh()
        log(f"batch size {size}, {WRITERS} writers, {warmup:g}s warm-up + {seconds:g}s")
        results.append(run_config(ctx, db, size, warmup, seconds))
        log(f"  → {results[-1]['events_per_s']} events/s, p99 {results[-1]['p99_ms']} ms")
    return results


def postgres_part(
    ctx: Any, admin: URL, warmup: float, seconds: float, quick: bool
) -> dict[str, Any]:
    """Earn runs and pgbench on the same server; scratch databases are dropped in any case."""
    scratch, pgbench_db = f"jifen_bench_{os.getpid()}", f"jifen_bench_pgbench_{os.getpid()}"
    part: dict[str, Any] = server_facts(admin)  # others' sessions skew us: reported

    def fresh() -> str:
        url = fresh_database(admin, scratch)
        prepare(url)
        checkpoint(admin)
        return url

    try:
        part["earn"] = run_backend(ctx, fresh, warmup, seconds)
        pg_seconds = PGBENCH["quick_seconds"] if quick else PGBENCH["seconds"]
        log(f"pgbench -i -s {PGBENCH['scale']}, then -T {pg_seconds}")
        try:
            part["pgbench"] = run_pgbench(admin, pgbench_db, pg_seconds)
        except Exception as exc:  # e.g. pgbench not installed: keep the earn figures
            part["pgbench"] = {"error": f"{type(exc).__name__}: {exc}"}
            return part
        tps = part["pgbench"]["tps"]
        log(f"  → pgbench {tps} tps")
        part["vs_pgbench"] = [
            {
                "batch_size": r["batch_size"],
                "events_per_s": r["events_per_s"],
                "ratio": round(r["events_per_s"] / tps, 2),
                "target": TARGETS[r["batch_size"]],
                "meets_target": r["events_per_s"] >= TARGETS[r["batch_size"]] * tps,
            }
            for r in part["earn"]
        ]
        return part
    finally:
        for name in (scratch, pgbench_db):
            drop_database(admin, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("JIFEN_BENCH_PG", DEFAULT_ADMIN_URL))
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per run")
    parser.add_argument("--quick", action="store_true", help="3 s runs, pgbench -T 5")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    warmup = 1.0 if args.quick else 2.0
    ctx = mp.get_context("spawn")
    admin = make_url(args.pg)
    report: dict[str, Any] = {
        "benchmark": "jifen ledger earn ingestion",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "code": code_version(),
        "settings": {
            "writers": WRITERS,
            "batch_sizes": list(BATCH_SIZES),
            "warmup_s": warmup,
            "seconds": seconds,
            "member_pool": MEMBER_POOL,
            "merchants": len(MERCHANTS),
            "quick": args.quick,
        },
    }
    with tempfile.TemporaryDirectory(prefix="jifen-bench-") as tmp:
        log("SQLite (temp file, WAL)")
        paths = (str(Path(tmp) / f"ledger-{size}.db") for size in BATCH_SIZES)

        def fresh_sqlite() -> str:
            path = next(paths)
            prepare(path)
            return path

        report["sqlite"] = {"earn": run_backend(ctx, fresh_sqlite, warmup, seconds)}
    log(f"PostgreSQL at {admin.render_as_string(hide_password=True)}")
    try:
        report["postgresql"] = postgres_part(ctx, admin, warmup, seconds, args.quick)
        report["machine"]["postgres_server_version"] = report["postgresql"]["server_version"]
    except Exception as exc:  # unreachable server, missing pgbench: report, keep SQLite figures
        log(f"PostgreSQL part failed: {exc}")
        report["postgresql"] = {"error": f"{type(exc).__name__}: {exc}"}
    report["machine"]["loadavg_at_end"] = loadavg()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
