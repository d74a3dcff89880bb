"""Whole crawls against the replay server: recall, repeat runs, renames, vanishing, READMEs."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from collector.crawl import run_crawl
from stackatlas.settings import Settings
from standins.github import FaultConfig, RateLimitConfig, ReplayServer, Snapshot
from standins.sample import generate_population
from warehouse.db import connect

TOKEN = "ghp_SECRET_MARKER_9f8e7d"
FAST_LIMITS = RateLimitConfig(search_limit=30, search_window=1.0, core_limit=5000, core_window=60)


def population(n: int = 2500, seed: int = 3) -> Snapshot:
    return Snapshot(generate_population(n, seed))


def settings(**changes: object) -> Settings:
    values: dict[str, object] = {"github_token": TOKEN, "max_retries": 8, **changes}
    return Settings(**values)  # type: ignore[arg-type]


def crawl(con: duckdb.DuckDBPyConnection, url: str, **kwargs: object):
    options = {"all_500": True, "readme": False, "progress": False, "reset_margin": 0.05,
               "backoff_base": 0.01}
    chosen = kwargs.pop("settings", None) or settings()
    options.update(kwargs)
    return run_crawl(con, chosen, api_url=url, **options)  # type: ignore[arg-type]


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(tmp_path / "crawl.duckdb")
    yield con
    con.close()


def ids(con: duckdb.DuckDBPyConnection, where: str = "true") -> set[int]:
    return {r[0] for r in con.execute(f"SELECT id FROM repositories WHERE {where}").fetchall()}


def test_all_500_crawl_finds_every_repository_once(
    warehouse: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    snapshot = population()
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        result = crawl(warehouse, server.url)
        stats = server.stats
    assert ids(warehouse) == {r.id for r in snapshot if r.stars >= 500}
    assert result.repos_seen == result.new == len(snapshot)
    assert stats.violations == 0
    assert stats.requests["search"] <= 1.4 * -(-len(snapshot) // 100)
    observations = warehouse.execute(
        "SELECT count(*), count(DISTINCT repo_id) FROM observations WHERE run_id = ?",
        [result.run_id],
    ).fetchall()[0]
    assert observations == (len(snapshot), len(snapshot))
    assert all(s.status in ("done", "split") for s in _slices(warehouse, result.run_id))
    assert TOKEN not in caplog.text


def _slices(con: duckdb.DuckDBPyConnection, run_id: int) -> list:
    from warehouse.crawls import run_slices

    return run_slices(con, run_id)


def test_second_run_reuses_slices_and_appends_observations(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    snapshot = population()
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        first = crawl(warehouse, server.url)
        before = server.stats.requests["search"]
        second = crawl(warehouse, server.url)
        again = server.stats.requests["search"] - before
    assert second.new == 0 and second.repos_seen == len(snapshot)
    assert second.wasted_probes == 0
    assert again <= before
    counts = warehouse.execute(
        "SELECT run_id, count(*) FROM observations GROUP BY run_id ORDER BY run_id"
    ).fetchall()
    assert counts == [(first.run_id, len(snapshot)), (second.run_id, len(snapshot))]


def test_renamed_vanished_and_fallen_repositories(warehouse: duckdb.DuckDBPyConnection) -> None:
    snapshot = population(600, seed=4)
    repos = sorted(snapshot, key=lambda r: r.id)
    renamed, vanished, fallen = repos[0], repos[1], repos[2]
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        crawl(warehouse, server.url)
        changed = [
            dataclasses.replace(renamed, full_name=renamed.owner + "/renamed-" + renamed.name),
            dataclasses.replace(fallen, stars=420),
            *repos[3:],
        ]
        server.replace_snapshot(Snapshot(changed))
        result = crawl(warehouse, server.url)
    row = warehouse.execute(
        "SELECT full_name, status FROM repositories WHERE id = ?", [renamed.id]
    ).fetchall()[0]
    assert row == (renamed.owner + "/renamed-" + renamed.name, "active")
    statuses = dict(warehouse.execute("SELECT id, status FROM repositories").fetchall())
    assert statuses[vanished.id] == "vanished"
    assert statuses[fallen.id] == "below_threshold"
    assert len(statuses) == len(snapshot)  # nothing deleted
    assert (result.renamed, result.vanished, result.below_threshold) == (1, 1, 1)
    names = warehouse.execute(
        "SELECT count(*) FROM repository_names WHERE repo_id = ?", [renamed.id]
    ).fetchall()[0][0]
    assert names == 2


def test_readmes_are_fetched_once_then_revalidated_only_after_a_push(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    snapshot = population(300, seed=5)
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        first = crawl(warehouse, server.url, readme=True)
        core_first = server.stats.requests["core"]
        second = crawl(warehouse, server.url, readme=True)
        core_second = server.stats.requests["core"] - core_first
    with_readme = warehouse.execute(
        "SELECT count(*) FROM repositories WHERE readme_excerpt IS NOT NULL"
    ).fetchall()[0][0]
    assert first.readmes_changed == with_readme > 0.8 * len(snapshot)
    assert core_first == len(snapshot)
    # Nothing was pushed since the first check: no README is asked for again.
    assert core_second == 0
    assert second.readmes_changed == 0


def test_star_history_dates_and_unknown_when_forbidden(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    snapshot = population(60, seed=6)
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        result = crawl(warehouse, server.url, star_history=True)
    rows = warehouse.execute(
        "SELECT m.crossed_on, m.source, r.created_at FROM star_milestones m"
        " JOIN repositories r ON r.id = m.repo_id"
    ).fetchall()
    assert len(rows) == len(snapshot) == result.star_dates
    assert all(src == "stargazers_history" and day >= created.date() for day, src, created in rows)


def test_faults_keep_full_recall_without_duplicates(warehouse: duckdb.DuckDBPyConnection) -> None:
    snapshot = population(1500, seed=8)
    faults = FaultConfig(seed=2, error_rate=0.05, secondary_limit_rate=0.03, retry_after=1,
                         incomplete_rate=0.05)
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS, faults=faults) as server:
        result = crawl(warehouse, server.url)
        stats = server.stats
    assert sum(stats.faults.values()) > 0
    assert stats.violations == 0
    assert ids(warehouse) == {r.id for r in snapshot}
    dupes = warehouse.execute(
        "SELECT count(*) - count(DISTINCT repo_id) FROM observations WHERE run_id = ?",
        [result.run_id],
    ).fetchall()[0][0]
    assert dupes == 0


def test_query_mode_finds_what_the_queries_reach(warehouse: duckdb.DuckDBPyConnection) -> None:
    from collector.discovery import load_query_set
    from standins.github import parse_query, search_repos

    snapshot = population(3000, seed=9)
    reachable: set[int] = set()
    for query in load_query_set(None, 500).queries:
        reachable |= {r.id for r in search_repos(snapshot, parse_query(query), None, None)}
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        result = crawl(warehouse, server.url, all_500=False)
    assert ids(warehouse) == reachable
    assert result.mode == "queries"


def test_failure_is_recorded_and_reported_in_one_line(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    from stackatlas.errors import GitHubError

    with pytest.raises(GitHubError) as info:
        crawl(warehouse, "http://127.0.0.1:9", settings=settings(max_retries=0))
    assert "--resume" in info.value.hint
    status = warehouse.execute("SELECT status, error FROM crawl_runs").fetchall()[0]
    assert status[0] == "failed" and TOKEN not in status[1]
