"""Benchmark of the collector against the replay server (a population shaped like GitHub's).

    python -m bench.crawl [--n 20000] [--seed 11] [--window 1.0]

Prints, for a cold and a warm --all-500 crawl, the query-set crawl and a crawl with faults:
discovery requests ÷ ⌈N/100⌉, rate-limit violations (search bucket at 30 per window), recall of
reachable repositories and duplicate observations. Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from collector.crawl import run_crawl
from collector.discovery import load_query_set
from stackatlas.settings import Settings
from standins.github import (
    FaultConfig,
    RateLimitConfig,
    ReplayServer,
    Snapshot,
    parse_query,
    search_repos,
)
from standins.sample import generate_population
from warehouse.db import connect

RATIO_TARGET = 1.15
BENCH_TOKEN = "bench-token"


@dataclass
class Figures:
    name: str
    reachable: int
    requests: int
    violations: int
    recall: float
    duplicates: int
    seconds: float

    @property
    def ratio(self) -> float:
        return self.requests / math.ceil(self.reachable / 100)

    def line(self) -> str:
        return (
            f"{self.name:<24} N={self.reachable:>6}  requests={self.requests:>5}  "
            f"ratio={self.ratio:.3f}  violations={self.violations}  "
            f"recall={self.recall:.2%}  duplicates={self.duplicates}  {self.seconds:.1f}s"
        )


def reachable_ids(snapshot: Snapshot, all_500: bool, min_stars: int) -> set[int]:
    if all_500:
        return {r.id for r in snapshot if r.stars >= min_stars}
    found: set[int] = set()
    for query in load_query_set(None, min_stars).queries:
        found |= {r.id for r in search_repos(snapshot, parse_query(query), None, None)}
    return found


def measure(
    name: str,
    con: duckdb.DuckDBPyConnection,
    server: ReplayServer,
    reachable: set[int],
    *,
    all_500: bool,
) -> Figures:
    before = server.stats
    started = time.monotonic()
    settings = Settings(github_token=BENCH_TOKEN, max_retries=10)  # type: ignore[call-arg]
    result = run_crawl(
        con, settings, api_url=server.url, all_500=all_500, readme=False, progress=False,
        reset_margin=0.05, backoff_base=0.05,
    )
    after = server.stats
    seen = {
        row[0]
        for row in con.execute(
            "SELECT repo_id FROM observations WHERE run_id = ?", [result.run_id]
        ).fetchall()
    }
    duplicates = con.execute(
        "SELECT count(*) - count(DISTINCT repo_id) FROM observations WHERE run_id = ?",
        [result.run_id],
    ).fetchall()[0][0]
    return Figures(
        name=name,
        reachable=len(reachable),
        requests=after.requests["search"] - before.requests["search"],
        violations=after.violations - before.violations,
        recall=len(seen & reachable) / max(1, len(reachable)),
        duplicates=int(duplicates),
        seconds=time.monotonic() - started,
    )


def run(n: int, seed: int, window: float) -> list[Figures]:
    snapshot = Snapshot(generate_population(n, seed))
    limits = RateLimitConfig(search_limit=30, search_window=window, core_window=60 * window)
    faults = FaultConfig(seed=seed, error_rate=0.05, secondary_limit_rate=0.02,
                         retry_after=max(1, round(window)), incomplete_rate=0.05)
    everything = reachable_ids(snapshot, True, 500)
    by_queries = reachable_ids(snapshot, False, 500)
    figures: list[Figures] = []
    with tempfile.TemporaryDirectory() as folder:
        with ReplayServer(snapshot, rate_limits=limits) as server:
            con = connect(Path(folder) / "all.duckdb")
            figures.append(measure("all-500 (cold)", con, server, everything, all_500=True))
            figures.append(measure("all-500 (warm)", con, server, everything, all_500=True))
            con.close()
            con = connect(Path(folder) / "queries.duckdb")
            figures.append(measure("query set (cold)", con, server, by_queries, all_500=False))
            figures.append(measure("query set (warm)", con, server, by_queries, all_500=False))
            con.close()
        with ReplayServer(snapshot, rate_limits=limits, faults=faults) as server:
            con = connect(Path(folder) / "faults.duckdb")
            figures.append(measure("all-500 with faults", con, server, everything, all_500=True))
            con.close()
            print(f"faults injected: {dict(server.stats.faults)}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="repositories in the population")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--window", type=float, default=1.0,
                        help="seconds per search window of 30 requests (GitHub: 60)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    figures = run(args.n, args.seed, args.window)
    for figure in figures:
        print(figure.line())
    clean = [f for f in figures if "faults" not in f.name]
    failures = [f.name + ": ratio" for f in clean if f.ratio > RATIO_TARGET and "all-500" in f.name]
    failures += [f.name + ": violations" for f in figures if f.violations]
    failures += [f.name + ": recall" for f in figures if f.recall < 1]
    failures += [f.name + ": duplicates" for f in figures if f.duplicates]
    print("targets: ratio ≤ 1.15 (all-500), 0 violations, 100% recall, 0 duplicates")
    print("result: " + ("all met" if not failures else "MISSED " + ", ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
