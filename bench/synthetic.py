"""A fast builder of synthetic warehouses: N labelled repositories, 12 monthly observations each.

Everything is generated inside DuckDB with ``range()`` and ``hash()``, so a million repositories
(twelve million observations) take seconds, and the same N gives the same warehouse. Used by
``bench/analytics.py`` and ``bench/api.py``::

    from bench.synthetic import build_warehouse
    con = build_warehouse(Path("/tmp/w.duckdb"), 1_000_000)

What it holds, so that every analytic has something to find:
- creation dates from 2010 to November 2025, more of them recent (as on GitHub);
- 12 crawl runs, the first of each month from December 2025 to November 2026, each observing
  every repository; stars grow along the year, and about one repository in eight starts below
  the 500-star threshold, so its crossing month is known from the observations (a crawl of
  500+ stars rarely sees a repository below the threshold);
- a star-history milestone for one repository in ten (the rest that start above the threshold
  have an unknown crossing month);
- one model label each, over every category of the taxonomy (one in ten is ``other``),
  with a subcategory of that category; 2% of the repositories are vanished.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from classifier import taxonomy
from warehouse.analytics import monthly_series
from warehouse.db import connect
from warehouse.estimates import EstimateRun, save_estimates
from warehouse.labels import refresh_current_labels

log = logging.getLogger(__name__)

OBSERVATIONS = 12
FIRST_RUN = "2025-12-01 06:00:00"
LANGUAGES = ("Python", "TypeScript", "Jupyter Notebook", "C++", "Rust", "Go", "JavaScript", "Java")


def _label_table(con: duckdb.DuckDBPyConnection) -> None:
    """``synthetic_labels(slot, layer, category, subcategories)``: ten slots, ``other`` in one."""
    ai = [name for name in taxonomy.CATEGORIES if name != taxonomy.NOT_AI_CATEGORY]
    slots = [ai[i % len(ai)] for i in range(9)] + [taxonomy.NOT_AI_CATEGORY]
    rows = [
        (slot, taxonomy.layer_of(name), name, list(taxonomy.CATEGORIES[name].subcategories))
        for slot, name in enumerate(slots)
    ]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synthetic_labels "
        "(slot INTEGER, layer VARCHAR, category VARCHAR, subcategories VARCHAR[])"
    )
    con.executemany("INSERT INTO synthetic_labels VALUES (?, ?, ?, ?)", rows)


def _fill(con: duckdb.DuckDBPyConnection, n: int) -> None:
    languages = "[" + ", ".join(f"'{name}'" for name in LANGUAGES) + "]"
    con.execute(
        f"""
        INSERT INTO crawl_runs (id, started_at, finished_at, status, mode, api_url, query_set,
                                requests, repos_seen)
        SELECT k + 1, TIMESTAMP '{FIRST_RUN}' + INTERVAL (k) MONTH,
               TIMESTAMP '{FIRST_RUN}' + INTERVAL (k) MONTH + INTERVAL 2 HOUR,
               'succeeded', 'all_500', 'http://127.0.0.1/synthetic', 'synthetic', $n // 100, $n
        FROM range({OBSERVATIONS}) t(k);

        CREATE OR REPLACE TEMP TABLE synthetic_repos AS
        SELECT i AS id,
               -- more repositories in recent years: the square root skews towards 1
               TIMESTAMP '2010-01-01' + to_seconds(
                   (sqrt((hash(i, 1) % 1000000) / 1000000.0) * 501000000)::BIGINT
               ) AS created_at,
               (400 + (hash(i, 2) % 1000) * (hash(i, 3) % 1000) // 250)::INTEGER AS start_stars,
               (40 + hash(i, 4) % 400)::INTEGER AS monthly_gain,
               (hash(i, 5) % 10)::INTEGER AS slot,
               (hash(i, 6) % 1000000)::BIGINT AS pick,
               hash(i, 7) % 50 = 0 AS vanished
        FROM range(1, $n + 1) t(i);

        INSERT INTO repositories (id, full_name, owner, name, description, language, topics,
            created_at, pushed_at, archived, stars, forks, status, first_seen_at, last_seen_at,
            updated_at)
        SELECT id, 'owner' || (id % 50000) || '/repo' || id, 'owner' || (id % 50000),
               'repo' || id, 'Synthetic repository ' || id,
               ($languages)[1 + pick % {len(LANGUAGES)}], ['ai'], created_at, created_at,
               false, start_stars + monthly_gain * {OBSERVATIONS - 1},
               (start_stars + monthly_gain * {OBSERVATIONS - 1}) // 10,
               CASE WHEN vanished THEN 'vanished' ELSE 'active' END,
               TIMESTAMP '{FIRST_RUN}', TIMESTAMP '{FIRST_RUN}' + INTERVAL {OBSERVATIONS - 1} MONTH,
               TIMESTAMP '{FIRST_RUN}' + INTERVAL {OBSERVATIONS - 1} MONTH
        FROM synthetic_repos;

        INSERT INTO observations (run_id, repo_id, observed_at, stars, forks)
        SELECT k + 1, id, TIMESTAMP '{FIRST_RUN}' + INTERVAL (k) MONTH,
               start_stars + monthly_gain * k, (start_stars + monthly_gain * k) // 10
        FROM synthetic_repos CROSS JOIN range({OBSERVATIONS}) t(k);

        INSERT INTO classifications (repo_id, layer, category, subcategory, confidence, method,
            model_version, taxonomy_version, created_at)
        SELECT r.id, l.layer, l.category,
               CASE WHEN len(l.subcategories) > 0
                    THEN l.subcategories[1 + r.pick % len(l.subcategories)] END,
               0.5 + (r.pick % 50) / 100.0, 'model', 'synthetic-model',
               '{taxonomy.TAXONOMY_VERSION}',
               TIMESTAMP '{FIRST_RUN}'
        FROM synthetic_repos r JOIN synthetic_labels l USING (slot);

        INSERT INTO star_milestones (repo_id, threshold, crossed_on, source, fetched_at)
        SELECT id, 500, (created_at + INTERVAL 200 DAY)::DATE, 'stargazers_history',
               TIMESTAMP '{FIRST_RUN}'
        FROM synthetic_repos WHERE hash(id, 8) % 10 = 0 AND start_stars >= 500;
        """.replace("$n", str(int(n))).replace("$languages", languages)
    )


def build_warehouse(path: Path | str, n: int) -> duckdb.DuckDBPyConnection:
    """A migrated warehouse at ``path`` (``":memory:"`` works) holding ``n`` synthetic repos.

    An existing file at ``path`` is replaced. Returns the open connection.
    """
    target = Path(path) if str(path) != ":memory:" else None
    if target is not None:
        for leftover in (target, target.with_name(target.name + ".wal")):
            leftover.unlink(missing_ok=True)
    con = connect(path)
    started = time.perf_counter()
    _label_table(con)
    _fill(con, n)
    refresh_current_labels(con)  # the labels went in by SQL, not through insert_labels
    con.execute("CHECKPOINT")
    log.info("built %d synthetic repositories in %.1f s", n, time.perf_counter() - started)
    return con


def store_estimates(con: duckdb.DuckDBPyConnection, *, spread: float = 0.2) -> int:
    """Estimated counts around the labelled ones (±``spread``), stored as an estimation run
    stores them, so that the stack chart draws its band: for benches and tests of the drawing,
    not of the estimation (``classifier/estimation.py`` computes real ones). Needs refreshed
    analytics; returns the rows stored."""
    series = monthly_series(con, by="category", include_other=True)
    new = pl.col("new_repos").cast(pl.Float64)
    total = pl.col("cumulative_repos").cast(pl.Float64)
    rows = series.select(
        "month", "layer", "category", new.alias("estimate"),
        (new * (1 - spread)).alias("lo"), (new * (1 + spread)).alias("hi"),
        (total * (1 + spread / 4)).alias("cumulative_estimate"),
        (total * (1 - spread)).alias("cumulative_lo"),
        (total * (1 + spread)).alias("cumulative_hi"),
    )  # fmt: skip
    run = EstimateRun(model_version="synthetic", method="acc", computed_at=datetime(2026, 11, 2),
                      repos=int(series["new_repos"].sum()), human_confirmed=0, validation_rows=0,
                      interval_level=0.9, replicates=0)  # fmt: skip
    return save_estimates(con, run, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="DuckDB file to (re)create")
    parser.add_argument("--n", type=int, default=20_000, help="repositories (default 20,000)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_warehouse(args.path, args.n).close()


if __name__ == "__main__":
    main()
