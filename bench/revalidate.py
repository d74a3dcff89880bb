"""Benchmark: README revalidation that GitHub answers 304 (free) must not be paced.

    python -m bench.revalidate [--n 375] [--repeats 3]

Crawls N repositories with READMEs from the replay server, then revalidates every README (all
answered 304) twice per repeat: once as before (each 304 charged to the core bucket's pacing,
the baseline) and once as now (304s given back). Prints the median seconds and waits of each and
their ratio. The core bucket is set to 5,000 an hour, as GitHub's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from collector.crawl import run_crawl
from collector.ratelimit import RateLimiter
from stackatlas.settings import Settings
from standins.github import RateLimitConfig, ReplayServer, Snapshot
from standins.sample import generate_population
from warehouse.db import connect

LIMITS = RateLimitConfig(search_limit=30, search_window=1.0, core_limit=5000, core_window=3600)


@contextmanager
def charged_304s() -> Iterator[None]:
    """The behaviour before the fix: a 304 keeps its place in the pacing."""
    refund = RateLimiter.refund
    RateLimiter.refund = lambda self, bucket, headers: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        RateLimiter.refund = refund  # type: ignore[method-assign]


def revalidate(con: duckdb.DuckDBPyConnection, url: str) -> tuple[float, float, int]:
    """Seconds, seconds waited and 304 answers of one crawl that revalidates every README."""
    con.execute("UPDATE repositories SET readme_checked_at = NULL")
    started = time.perf_counter()
    result = run_crawl(con, Settings(github_token="bench-token"), api_url=url,  # type: ignore[call-arg]
                       all_500=True, readme=True, progress=False, reset_margin=0.05)
    return time.perf_counter() - started, result.wait_seconds, result.requests["core"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=375)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, float, int]]] = {"before (304 paced)": [], "now": []}
    with tempfile.TemporaryDirectory() as folder, ReplayServer(
        Snapshot(generate_population(args.n, 3)), rate_limits=LIMITS
    ) as server:
        con = connect(Path(folder) / "bench.duckdb")
        run_crawl(con, Settings(github_token="bench-token"), api_url=server.url,  # type: ignore[call-arg]
                  all_500=True, readme=True, progress=False, reset_margin=0.05)
        for _ in range(args.repeats):
            with charged_304s():
                runs["before (304 paced)"].append(revalidate(con, server.url))
            runs["now"].append(revalidate(con, server.url))
        con.close()
    medians = {name: statistics.median(r[0] for r in rows) for name, rows in runs.items()}
    for name, rows in runs.items():
        waited = statistics.median(r[1] for r in rows)
        print(f"{name:>20}: {medians[name]:6.1f} s median, waited {waited:5.1f} s, "
              f"{rows[0][2]} core requests, {args.repeats} runs")
    print(f"{'ratio now/before':>20}: {medians['now'] / medians['before (304 paced)']:.2f}")


if __name__ == "__main__":
    main()
