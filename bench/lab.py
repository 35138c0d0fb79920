"""Scheme-lab benchmark: how long the consumption-appreciation simulator takes.

    python bench/lab.py [--members N] [--days D] [--seed S]

Prints one JSON document on stdout: the wall time of a population run (default 100,000 members
over 720 days, pitch parameters, findings included), the orders it processed, orders per second,
and the ratio of the wall time to the 60-second target (below 1 meets it); and the wall time of a
replay of the pitch's worked example, 1,000 orders of ¥1,000. It reports; it never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from jifen.lab.appreciation import (
    AppreciationParams,
    PopulationParams,
    replay,
    simulate,
)

TARGET_SECONDS = 60.0
"""100,000 members × 720 days in under a minute on a 2-core machine."""
REPLAY_ORDERS = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=720)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    params = AppreciationParams()
    population = PopulationParams(members=args.members, days=args.days)

    started = time.perf_counter()
    result = simulate(params, population, args.seed)
    population_seconds = time.perf_counter() - started
    orders = int(result.summary["orders"])

    started = time.perf_counter()
    replayed = replay(params, orders=REPLAY_ORDERS, order_amount=1000)
    replay_seconds = time.perf_counter() - started

    report = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "population": {
            "members": args.members,
            "days": args.days,
            "seed": args.seed,
            "wall_seconds": round(population_seconds, 3),
            "orders": orders,
            "orders_per_second": round(orders / population_seconds),
            "forced_exits": result.summary["forced_exits"],
            "target_seconds": TARGET_SECONDS,
            "ratio_to_target": round(population_seconds / TARGET_SECONDS, 3),
        },
        "replay": {
            "orders": REPLAY_ORDERS,
            "wall_seconds": round(replay_seconds, 3),
            "final_price_yuan": replayed.summary["final_price_yuan"],
        },
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
