"""The whole pipeline, crawl → classify → estimate → count, against the replay server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from pydantic import SecretStr

from stackatlas.pipeline import run_pipeline
from stackatlas.settings import Settings
from standins.github import RateLimitConfig, ReplayServer
from standins.github.snapshot import Snapshot
from standins.sample import generate_sample
from warehouse.analytics import monthly_series
from warehouse.counts import monthly_counts
from warehouse.estimates import latest_run, monthly_estimates
from warehouse.releases import latest_release

FAST_LIMITS = RateLimitConfig(search_limit=30, search_window=1.0, core_limit=5000, core_window=60.0)


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return Snapshot(generate_sample(n=240, seed=3))


@pytest.fixture
def replay(snapshot: Snapshot) -> Iterator[ReplayServer]:
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        yield server


def settings_for(replay: ReplayServer, tmp_path: Path) -> Settings:
    return Settings(
        api_url=replay.url,
        data_dir=tmp_path / "data",
        github_token=SecretStr("test-token"),
        fetch_readme=True,
    )


def test_pipeline_stores_every_repository_with_one_label(
    replay: ReplayServer, snapshot: Snapshot, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = run_pipeline(con, settings_for(replay, tmp_path), all_500=True, progress=False)

    stored = {name for (name,) in con.execute("SELECT full_name FROM repositories").fetchall()}
    assert stored == {repo.full_name for repo in snapshot}
    unlabelled = con.execute(
        "SELECT count(*) FROM labelled_repositories WHERE category IS NULL"
    ).fetchall()
    assert unlabelled == [(0,)]
    assert result.classify.labelled == len(snapshot)
    assert int(result.summary["repos"].sum()) == len(snapshot)
    observations = con.execute("SELECT count(*), count(DISTINCT repo_id) FROM observations")
    assert observations.fetchall() == [(len(snapshot), len(snapshot))]

    counts = monthly_counts(con, include_other=True)
    last_month = counts.filter(counts["month"] == counts["month"].max())
    assert int(last_month["cumulative_repos"].sum()) == len(snapshot)

    # the run ends with a frozen release of the figures, counting every repository
    assert latest_release(con) == result.release
    assert result.release.methodology["threshold"] == 500
    released = monthly_series(con, include_other=True, release=result.release.id)
    last = released.filter(released["month"] == released["month"].max())
    assert int(last["cumulative_repos"].sum()) == len(snapshot)
    # the estimated counts follow the classification, for the model that labelled
    run = latest_run(con)
    assert run is not None and run.model_version == result.classify.model_version
    estimates = monthly_estimates(con)
    final = estimates.filter(estimates["month"] == estimates["month"].max())
    assert final["estimate"].sum() == pytest.approx(len(snapshot))
    assert (final["lo"] <= final["estimate"]).all() and (final["estimate"] <= final["hi"]).all()


def test_rerun_appends_observations_and_labels_only_what_changed(
    replay: ReplayServer, snapshot: Snapshot, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = settings_for(replay, tmp_path)
    run_pipeline(con, settings, all_500=True, progress=False)
    second = run_pipeline(con, settings, all_500=True, progress=False)

    assert second.classify.candidates == 0
    runs = con.execute("SELECT count(DISTINCT run_id) FROM observations").fetchall()
    assert runs == [(2,)]
    per_repo = con.execute(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM observations GROUP BY repo_id)"
    ).fetchall()
    assert per_repo == [(2,)]
    labels = con.execute("SELECT count(*) FROM classifications").fetchall()
    assert labels == [(len(snapshot),)]
