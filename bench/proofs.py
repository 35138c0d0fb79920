"""Proof-of-liabilities benchmark: the Merkle sum tree of 1,000,000 members, and the stored
checkpoint (``take_checkpoint``) over a store that holds them (issue 15).

    python bench/proofs.py [--members N] [--stored-members N] [--parts tree,stored]
                           [--stores sqlite,postgresql] [--pg URL] [--pgbench-seconds N]
                           [--no-tracemalloc] [--profile] [--quick]

Prints one JSON document on stdout (progress on stderr). Every measured build runs in a fresh
process of its own, so its peak resident memory (``ru_maxrss``) is that build's and not the
benchmark's. Each figure comes with a baseline measured in the same run on the same machine:

- ``tree``: ``SumTree`` of N members (salts by ``leaf_salt``, balances varied) against the
  hashing floor, the same N HMAC-SHA256 salts, N leaf SHA-256 and the tree's node SHA-256 over
  byte strings of the same sizes in a tight loop: ``ratio = tree_seconds / floor_seconds``.
- ``stored``: N members loaded through the ledger (``Ledger.submit_batch``, batches of 1,000
  Earns, one per member), then ``take_checkpoint`` end to end against one plain read of the
  same balances (the query ``member_outstanding`` runs, straight through the driver):
  ``ratio = checkpoint_seconds / read_seconds``; on PostgreSQL also pgbench tps, as in
  bench/ledger.py. The scratch database ``jifen_bench_proofs`` is created and dropped here.

It reports; it never asserts. docs/benchmark.md explains the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from _common import (
    DEFAULT_ADMIN_URL,
    PGBENCH,
    checkpoint,
    code_version,
    drop_quietly,
    dsn,
    fresh_database,
    loadavg,
    log,
    machine_info,
    run_pgbench,
    server_facts,
)

MEMBERS, QUICK_MEMBERS = 1_000_000, 10_000
BATCH = 1000
"""Earns per ``submit_batch`` (the ledger's ``MAX_BATCH``)."""
PG_LOADERS = 3
"""Writer processes for the PostgreSQL load (as bench/scale.py); SQLite has one writer."""
SCRATCH, PGBENCH_DB = "jifen_bench_proofs", "jifen_bench_proofs_pgbench"
SECRET = "jifen-bench-proofs"
MERCHANT = "bench-shop"
CHILD_TIMEOUT_S = 3 * 3600
SALT_KEY = bytes(range(32))
"""The tree part's salt key: any 32 bytes (the store's own is derived from its secret)."""


def member_id(i: int) -> str:
    return f"p{i:07d}"


def points_of(i: int) -> int:
    """Varied balances, 1..99,991, so the sums differ in every subtree."""
    return 1 + (i * 7919) % 99_991


def rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- the children: each measured build in a process of its own -------------------------------------


def child_tree(members: int, trace: bool) -> dict[str, Any]:
    """Build the tree of ``members`` leaves; its time, peak memory, stored bytes, a proof."""
    from jifen.transparency import SumTree, leaf_salt, verify_proof
    from jifen.transparency.merkle import RECORD

    if trace:
        import tracemalloc

        tracemalloc.start()
    leaves = (
        (member_id(i), points_of(i), leaf_salt(SALT_KEY, "1", member_id(i))) for i in range(members)
    )
    before = rss_mib()
    began = time.perf_counter()
    tree = SumTree(leaves)
    seconds = time.perf_counter() - began
    out: dict[str, Any] = {"seconds": round(seconds, 3), "rss_before_mib": before}
    out["peak_rss_mib"] = rss_mib()
    if trace:
        out["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        return out
    stored = sum(len(level) for level in tree.levels)
    who = member_id(members // 2)
    began = time.perf_counter()
    proof = tree.proof(who, leaf_salt(SALT_KEY, "1", who))
    proof_ms = (time.perf_counter() - began) * 1000
    verify_proof(proof, *tree.root)
    document = json.dumps(proof.as_dict(), separators=(",", ":"))
    out |= {
        "members": tree.members,
        "levels": len(tree.levels),
        "node_hashes": sum(len(level) // RECORD for level in tree.levels[1:]),
        "stored_level_bytes": stored,
        "bytes_per_member": round(stored / max(members, 1), 2),
        "proof_steps": len(proof.path),
        "proof_bytes_binary": len(proof.path) * (32 + 8 + 1),
        "proof_bytes_json": len(document),
        "proof_ms": round(proof_ms, 3),
        "root_sum": tree.root[1],
    }
    return out


def child_floor(members: int, node_hashes: int) -> dict[str, Any]:
    """The hashing the tree cannot avoid, over byte strings of the same sizes, nothing else."""
    import hashlib
    import hmac

    salt_msg = f"1\x00{member_id(0)}".encode()
    leaf_msg = bytes(11 + 32 + len(member_id(0)) + 1 + 8)
    node_msg = bytes(11 + 2 * 40)
    sha256, mac = hashlib.sha256, hmac.digest
    began = time.perf_counter()
    for _ in range(members):
        mac(SALT_KEY, salt_msg, "sha256")
    salts = time.perf_counter()
    for _ in range(members):
        sha256(leaf_msg).digest()
    leaves = time.perf_counter()
    for _ in range(node_hashes):
        sha256(node_msg).digest()
    done = time.perf_counter()
    return {
        "seconds": round(done - began, 3),
        "hmac_s": round(salts - began, 3),
        "leaf_sha256_s": round(leaves - salts, 3),
        "node_sha256_s": round(done - leaves, 3),
        "hmacs": members,
        "leaf_hashes": members,
        "node_hashes": node_hashes,
    }


def child_checkpoint(url: str) -> dict[str, Any]:
    """``take_checkpoint`` end to end on the loaded store."""
    from jifen.app import open_alliance
    from jifen.proofs import take_checkpoint

    ctx = open_alliance(url, secret=SECRET)
    before = rss_mib()
    began = time.perf_counter()
    made = take_checkpoint(ctx, idem_key="bench-proofs")
    seconds = time.perf_counter() - began
    snap = made.document["snapshot"]
    ctx.ledger.engine.dispose()
    return {
        "seconds": round(seconds, 3),
        "rss_before_mib": before,
        "peak_rss_mib": rss_mib(),
        "members": snap["members"],
        "total": snap["total"],
    }


CHILDREN = {"tree": child_tree, "floor": child_floor, "checkpoint": child_checkpoint}


def child_main(kind: str, args: list[str], profile: bool) -> int:
    call: Any = CHILDREN[kind]
    parsed = [json.loads(a) for a in args]
    if not profile:
        result = call(*parsed)
    else:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(call, *parsed)
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(20)
        result["profile_tottime"] = [x for x in text.getvalue().splitlines() if x.strip()][-21:]
    print("JIFEN_BENCH " + json.dumps(result))
    return 0


def in_child(kind: str, *args: Any, profile: bool = False) -> dict[str, Any]:
    """Run one child to the end; its JSON line, or the error in its place."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind]
    cmd += ["--profile"] * profile + ["--", *(json.dumps(a) for a in args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    line = next((x for x in done.stdout.splitlines() if x.startswith("JIFEN_BENCH ")), None)
    if done.returncode or line is None:
        return {"error": f"exit {done.returncode}: {done.stderr[-2000:]}"}
    result: dict[str, Any] = json.loads(line.removeprefix("JIFEN_BENCH "))
    return result


# -- part 1: the tree ------------------------------------------------------------------------------


def tree_part(members: int, trace: bool, profile: bool) -> dict[str, Any]:
    log(f"tree of {members:,} members")
    tree = in_child("tree", members, False, profile=profile)
    if "error" in tree:
        return {"tree": tree}
    log(f"  → {tree['seconds']} s, peak {tree['peak_rss_mib']} MiB; the hashing floor")
    floor = in_child("floor", members, tree["node_hashes"])
    part: dict[str, Any] = {"tree": tree, "floor": floor}
    if "seconds" in floor:
        part["ratio"] = round(tree["seconds"] / floor["seconds"], 2)
        log(f"  → floor {floor['seconds']} s, ratio {part['ratio']}")
    if trace:
        log("  again under tracemalloc (its own process; slower, for the Python heap's peak)")
        traced = in_child("tree", members, True)
        if "seconds" in traced:
            traced["slowdown"] = round(traced["seconds"] / tree["seconds"], 2)
        part["tracemalloc"] = traced
    return part


# -- part 2: the stored checkpoint -----------------------------------------------------------------


def loader(url: str, batches: range, members: int, done: Any) -> None:
    """One Earn per member (members ``p0000000…`` in batches of ``BATCH``); reports each batch."""
    try:
        from jifen.alliance.orders import issue_charge_fen
        from jifen.ledger import Earn, Ledger

        ledger = Ledger.open(url)
        paid = datetime.now(UTC) - timedelta(days=1)
        for n in batches:
            ops = []
            for i in range(n * BATCH, min(members, (n + 1) * BATCH)):
                points = points_of(i)
                ops.append(
                    Earn(
                        key=f"proofs:{i}",
                        member_id=member_id(i),
                        merchant_id=MERCHANT,
                        order_ref=f"proofs-{i}",
                        amount_fen=points * 100,
                        points=points,
                        rule_version=1,
                        paid_at=paid,
                        release_at=paid + timedelta(days=7),
                        expires_at=paid + timedelta(days=730),
                        charge_fen=issue_charge_fen(points, 1200),
                        value_fen_per_point=1,
                    )
                )
            ledger.submit_batch(ops, paid + timedelta(seconds=1))
            done.put((1, None))
        ledger.engine.dispose()
    except Exception as exc:  # reported, never fatal to the run
        done.put((0, f"{type(exc).__name__}: {exc}"))


def load(url: str, members: int, writers: int) -> dict[str, Any]:
    """Migrate, open the merchant, and load ``members`` members' balances through the ledger."""
    from jifen.app import open_alliance

    ctx = open_alliance(url, secret=SECRET)
    ctx.ledger.open_merchant(MERCHANT)
    ctx.ledger.engine.dispose()
    total = -(-members // BATCH)
    spawn = mp.get_context("spawn")
    done: Any = spawn.Queue() if writers > 1 else queue.Queue()
    began = time.monotonic()
    procs = [
        spawn.Process(target=loader, args=(url, range(w, total, writers), members, done))
        for w in range(writers if writers > 1 else 0)
    ]
    for p in procs:
        p.start()
    if not procs:  # one writer (SQLite): here, without a process to spawn
        loader(url, range(total), members, done)
    loaded, errors = 0, list[str]()
    while loaded < total and not errors:
        try:
            n, error = done.get(timeout=60)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                break
            continue
        loaded += n
        errors += [error] if error else []
        if loaded % max(1, total // 10) == 0:
            rate = loaded * BATCH / (time.monotonic() - began)
            log(f"  {loaded * BATCH:,} members ({rate:,.0f}/s)")
    for p in procs:
        p.join(timeout=60)
        if p.is_alive():
            p.kill()
    seconds = time.monotonic() - began
    loaded_members = min(members, loaded * BATCH)
    return {
        "members": loaded_members,
        "writers": writers,
        "seconds": round(seconds, 1),
        "members_per_s": round(loaded_members / seconds, 1),
        **({"errors": errors} if errors else {}),
    }


READ_SQL = (
    "SELECT account_id, sum(amount) FROM balances WHERE account_id LIKE 'member:%' "
    "GROUP BY account_id ORDER BY account_id{collate}"
)


def read_balances(url: str) -> dict[str, Any]:
    """The baseline: the query ``member_outstanding`` runs, streamed through the bare driver
    (a server-side cursor on PostgreSQL) and discarded: what any snapshot has to pay to read."""
    began = time.perf_counter()
    rows = 0
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(dsn(make_url(url))) as pg, pg.cursor(name="bench") as server_side:
            server_side.execute(READ_SQL.format(collate=' COLLATE "C"'))
            while batch := server_side.fetchmany(10_000):
                rows += len(batch)
    else:
        import sqlite3

        with sqlite3.connect(url) as lite:
            cur = lite.execute(READ_SQL.format(collate=""))
            while batch := cur.fetchmany(10_000):
                rows += len(batch)
    return {"seconds": round(time.perf_counter() - began, 3), "rows": rows}


def measure_store(url: str, members: int, writers: int, profile: bool) -> dict[str, Any]:
    log(f"  loading {members:,} members through Ledger.submit_batch ({writers} writer(s))")
    part: dict[str, Any] = {"load": load(url, members, writers)}
    if "errors" in part["load"]:
        return part
    log(f"  → {part['load']['seconds']} s; the baseline read, then take_checkpoint")
    read_balances(url)  # warm-up: the same pages in cache for both
    part["read"] = read_balances(url)
    part["checkpoint"] = in_child("checkpoint", url, profile=profile)
    if "seconds" in part["checkpoint"]:
        part["ratio"] = round(part["checkpoint"]["seconds"] / part["read"]["seconds"], 1)
        log(f"  → {part['checkpoint']['seconds']} s, ratio {part['ratio']} to the read")
    return part


def postgres_store(admin: URL, members: int, pg_seconds: int, profile: bool) -> dict[str, Any]:
    part: dict[str, Any] = server_facts(admin)
    try:
        url = fresh_database(admin, SCRATCH)
        part |= measure_store(url, members, PG_LOADERS, profile)
        drop_quietly(admin, SCRATCH)
        if pg_seconds > 0:
            checkpoint(admin)
            log(f"pgbench -i -s {PGBENCH['scale']}, then -T {pg_seconds}")
            try:
                part["pgbench"] = run_pgbench(admin, PGBENCH_DB, pg_seconds)
            except Exception as exc:  # e.g. pgbench not installed: keep the other figures
                part["pgbench"] = {"error": f"{type(exc).__name__}: {exc}"}
            tps = part["pgbench"].get("tps")
            if tps and "seconds" in part.get("checkpoint", {}):
                part["checkpoint_in_pgbench_transactions"] = round(
                    part["checkpoint"]["seconds"] * tps
                )
        return part
    finally:
        for name in (SCRATCH, PGBENCH_DB):
            drop_quietly(admin, name)


def stored_part(args: argparse.Namespace) -> dict[str, Any]:
    part: dict[str, Any] = {}
    if "sqlite" in args.stores:
        log(f"stored checkpoint, SQLite (temp file), {args.stored_members:,} members")
        with tempfile.TemporaryDirectory(prefix="jifen-bench-proofs-") as tmp:
            part["sqlite"] = measure_store(
                str(Path(tmp) / "proofs.db"), args.stored_members, 1, args.profile
            )
    if "postgresql" in args.stores:
        admin = make_url(args.pg)
        log(f"stored checkpoint, PostgreSQL at {admin.render_as_string(hide_password=True)}")
        try:
            part["postgresql"] = postgres_store(
                admin, args.stored_members, args.pgbench_seconds, args.profile
            )
        except Exception as exc:  # unreachable server: report, keep the other figures
            part["postgresql"] = {"error": f"{type(exc).__name__}: {exc}"}
    return part


# -- the run ---------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=None, help=f"tree size, {MEMBERS:,}")
    parser.add_argument("--stored-members", type=int, default=None, help="default --members")
    parser.add_argument("--parts", default="tree,stored", help="tree, stored or both")
    parser.add_argument("--stores", default="sqlite,postgresql", help="for the stored part")
    parser.add_argument("--pg", default=os.environ.get("JIFEN_BENCH_PG", DEFAULT_ADMIN_URL))
    parser.add_argument("--pgbench-seconds", type=int, default=None, help="0: no pgbench")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced build")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured builds")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MEMBERS:,} members")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.members = args.members or (QUICK_MEMBERS if args.quick else MEMBERS)
    args.stored_members = args.stored_members or args.members
    args.parts = set(args.parts.split(","))
    args.stores = set(args.stores.split(","))
    if args.pgbench_seconds is None:
        args.pgbench_seconds = PGBENCH["quick_seconds"] if args.quick else PGBENCH["seconds"]
    return args


def main() -> int:
    args = parse_args()
    if args.child:
        return child_main(args.child, args.child_args, args.profile)
    report: dict[str, Any] = {
        "benchmark": "jifen proof of liabilities: sum tree and stored checkpoint",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "code": code_version(),
        "settings": {"members": args.members, "stored_members": args.stored_members,
                     "parts": sorted(args.parts), "stores": sorted(args.stores),
                     "batch": BATCH, "pg_loaders": PG_LOADERS,
                     "pgbench_seconds": args.pgbench_seconds, "profile": args.profile},
    }  # fmt: skip
    if "tree" in args.parts:
        report["tree"] = tree_part(args.members, not args.no_tracemalloc, args.profile)
    if "stored" in args.parts:
        report["stored"] = stored_part(args)
    report["machine"]["loadavg_at_end"] = loadavg()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
