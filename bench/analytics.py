"""Benchmark of the analytics refresh on synthetic warehouses (``bench/synthetic.py``).

    python -m bench.analytics [--sizes 20000 1000000] [--repeat 3] [--dir /tmp/stackatlas-bench]

For each size, prints the median of ``--repeat`` runs of:
- ``refresh_analytics`` (every table: both bases, growth, movers, shares' inputs, languages);
- the baseline, the view the API served before: ``monthly_counts`` (creation basis only,
  labels ranked by a window over every classification), materialised once;
- ``publish_release`` (freezing the aggregates and the labels), for information.
Target: refresh < 2 s at 1,000,000 repositories with 12 monthly observations each. Exits
non-zero when it is missed.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from bench.synthetic import build_warehouse
from warehouse.analytics import refresh_analytics
from warehouse.releases import publish_release

TARGET_SECONDS = 2.0
TARGET_SIZE = 1_000_000


def median_seconds(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall-clock seconds and median CPU seconds (all of DuckDB's threads) of ``action``."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(wall), statistics.median(cpu)


def baseline(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE bench_baseline AS SELECT * FROM monthly_counts")


def measure(path: Path, size: int, repeat: int) -> dict[str, tuple[float, float]]:
    started = time.perf_counter()
    con = build_warehouse(path, size)
    built = time.perf_counter() - started
    try:
        return {
            "build": (built, 0.0),
            "baseline": median_seconds(lambda: baseline(con), repeat),
            "refresh": median_seconds(lambda: refresh_analytics(con), repeat),
            "publish": median_seconds(lambda: publish_release(con, {"bench": True}), repeat),
        }
    finally:
        con.close()
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, TARGET_SIZE])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="folder for the warehouses")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="stackatlas-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"median of {args.repeat} runs; seconds, wall clock (CPU seconds of the process, all "
          f"threads, in brackets: on a busy machine they tell the work done); "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'repos':>10} {'build':>6} {'baseline view':>15} {'refresh':>14} {'ratio':>6} "
          f"{'publish':>14}")  # fmt: skip
    missed = False
    for size in args.sizes:
        figures = measure(folder / f"synthetic_{size}.duckdb", size, args.repeat)
        (base, base_cpu), (refresh, refresh_cpu) = figures["baseline"], figures["refresh"]
        publish, publish_cpu = figures["publish"]
        print(f"{size:>10,} {figures['build'][0]:>6.1f} {base:>7.2f} ({base_cpu:>5.2f}) "
              f"{refresh:>6.2f} ({refresh_cpu:>5.2f}) {refresh / base:>5.2f}x "
              f"{publish:>6.2f} ({publish_cpu:>5.2f})", flush=True)  # fmt: skip
        if size >= TARGET_SIZE and refresh >= TARGET_SECONDS:
            missed = True
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"target: refresh < {TARGET_SECONDS:.0f} s at {TARGET_SIZE:,}: "
          f"{'MISSED' if missed else 'met (or not measured)'}")  # fmt: skip
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
