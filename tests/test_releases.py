"""Frozen releases: numbering, immutability, the registry, the Parquet bundle, the pipeline step."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from stackatlas.errors import NotFoundError
from stackatlas.pipeline import release_step
from stackatlas.settings import Settings
from tests.analytics_fixture import DATA_DATE, seed_analytics
from tests.factories import add_label, add_repositories, make_repo
from warehouse import releases
from warehouse.analytics import (
    data_date,
    growth,
    monthly_series,
    movers,
    refresh_analytics,
    unknown_crossing,
)
from warehouse.crawls import start_run
from warehouse.releases import (
    get_release,
    latest_release,
    list_releases,
    parquet_bundle,
    publish_release,
)

DAY = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.fixture
def seeded(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    seed_analytics(con)
    refresh_analytics(con)
    return con


def _change_everything(con: duckdb.DuckDBPyConnection) -> None:
    """A later crawl: a new repository, more stars for all, and a relabel."""
    later = datetime(2024, 6, 20, 6)
    add_repositories(
        con,
        [make_repo(8, "h/eight", created=date(2024, 6, 1), stars=3000),
         make_repo(1, "a/one", created=date(2024, 1, 15), stars=5000)],
        seen_at=later, run_id=4,
    )  # fmt: skip
    add_label(con, 8, "models", created_at=later)
    add_label(con, 3, "infrastructure", method="human", created_at=later)
    refresh_analytics(con)


def test_ids_count_the_releases_of_a_day(seeded: duckdb.DuckDBPyConnection) -> None:
    first = publish_release(seeded, {"note": "a"}, now=DAY)
    second = publish_release(seeded, {"note": "b"}, now=DAY.replace(hour=23))
    next_day = publish_release(seeded, {"note": "c"}, now=datetime(2026, 12, 4, 0, 5, tzinfo=UTC))
    assert [first.id, second.id, next_day.id] == ["2026-12-03.1", "2026-12-03.2", "2026-12-04.1"]
    assert first.data_date == DATA_DATE
    assert first.methodology == {"note": "a"}
    assert [r.id for r in list_releases(seeded)] == ["2026-12-04.1", "2026-12-03.2", "2026-12-03.1"]
    assert latest_release(seeded) == next_day
    assert get_release(seeded, "2026-12-03.2") == second


@pytest.mark.parametrize("bad", ["2026-12-03.9", "latest", "2026-12-03", "x'; DROP TABLE x"])
def test_unknown_release_is_not_found(seeded: duckdb.DuckDBPyConnection, bad: str) -> None:
    publish_release(seeded, {}, now=DAY)
    with pytest.raises(NotFoundError, match="no release"):
        get_release(seeded, bad)
    with pytest.raises(NotFoundError):
        monthly_series(seeded, release=bad)


def test_a_published_release_never_changes(seeded: duckdb.DuckDBPyConnection) -> None:
    release = publish_release(seeded, {}, now=DAY)

    def figures(release_id: str | None) -> list[pl.DataFrame]:
        return [
            monthly_series(seeded, basis="crossed", release=release_id),
            monthly_series(seeded, by="subcategory", include_other=True, release=release_id),
            movers(seeded, window_days=30, release=release_id),
            growth(seeded, window_days=90, release=release_id),
        ]

    before = figures(release.id)
    labels_before = seeded.sql(
        "SELECT * FROM release_labels WHERE release_id = ? ORDER BY repo_id", params=[release.id]
    ).pl()
    _change_everything(seeded)
    second = publish_release(seeded, {}, now=DAY)

    for old, again in zip(before, figures(release.id), strict=True):
        assert old.equals(again)
    assert data_date(seeded, release.id) == DATA_DATE
    assert unknown_crossing(seeded, release=release.id) == 1
    labels_after = seeded.sql(
        "SELECT * FROM release_labels WHERE release_id = ? ORDER BY repo_id", params=[release.id]
    ).pl()
    assert labels_before.equals(labels_after)
    assert dict(zip(labels_after["repo_id"], labels_after["category"], strict=True))[3] == (
        "app-development"
    )
    # the newest release (the default) sees the change
    assert not before[0].equals(figures(None)[0])
    assert data_date(seeded) == date(2024, 6, 20) == second.data_date


def test_reads_are_live_until_a_release_is_published(seeded: duckdb.DuckDBPyConnection) -> None:
    live = monthly_series(seeded)
    assert live.height > 0
    _change_everything(seeded)
    assert not monthly_series(seeded).equals(live)  # no release: the live tables
    release = publish_release(seeded, {}, now=DAY)
    assert monthly_series(seeded).equals(monthly_series(seeded, release=release.id))


def test_labels_are_frozen_with_their_method_and_model(seeded: duckdb.DuckDBPyConnection) -> None:
    release = publish_release(seeded, {}, now=DAY)
    rows = seeded.execute(
        "SELECT repo_id, full_name, layer, category, subcategory, method, model_version "
        "FROM release_labels WHERE release_id = ? ORDER BY repo_id",
        [release.id],
    ).fetchall()
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]  # active and labelled only
    assert rows[0] == (1, "a/one", "model", "models", "language", "model", "test-model")


def test_a_new_frozen_table_is_one_registry_line(
    seeded: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = {**releases.FROZEN, "extra": "SELECT 42 AS answer, 'x' AS word"}
    monkeypatch.setattr(releases, "FROZEN", extra)
    release = publish_release(seeded, {}, now=DAY)
    assert "extra" in release.tables
    frozen = seeded.execute("SELECT * FROM release_extra").fetchall()
    assert frozen == [(release.id, 42, "x")]
    source, params = releases.frozen_source(seeded, "extra", None)
    assert seeded.execute(f"SELECT answer FROM {source}", params).fetchall() == [(42,)]


def test_parquet_bundle_round_trips(seeded: duckdb.DuckDBPyConnection) -> None:
    release = publish_release(seeded, {"threshold": 500}, now=DAY)
    before = parquet_bundle(seeded, release.id)
    _change_everything(seeded)
    publish_release(seeded, {}, now=DAY)
    bundle = parquet_bundle(seeded, release.id)
    assert bundle == before  # the same bytes after later publishes (stored differently by then)
    assert bundle == parquet_bundle(seeded, release.id)
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        names = set(archive.namelist())
        assert names == {f"{name}.parquet" for name in release.tables} | {"methodology.json"}
        record = json.loads(archive.read("methodology.json"))
        monthly = pl.read_parquet(io.BytesIO(archive.read("monthly.parquet")))
        labels = pl.read_parquet(io.BytesIO(archive.read("labels.parquet")))
    assert record["id"] == release.id and record["methodology"] == {"threshold": 500}
    assert record["data_date"] == "2024-05-20" and record["published_at"] == "2026-12-03T09:30:00Z"
    frozen = seeded.sql(
        "SELECT * EXCLUDE (release_id) FROM release_monthly WHERE release_id = ? ORDER BY ALL",
        params=[release.id],
    ).pl()
    assert monthly.equals(frozen)
    assert labels.height == 5 and "h/eight" not in set(labels["full_name"])


def test_release_step_refreshes_and_records_the_methodology(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    seed_analytics(con)
    run = start_run(con, "all_500", "http://127.0.0.1:1", "default", datetime(2024, 5, 20, 6))
    con.execute(
        "UPDATE crawl_runs SET status = 'succeeded', finished_at = ? WHERE id = ?",
        [datetime(2024, 5, 20, 7), run.id],
    )
    release = release_step(con, Settings(data_dir=tmp_path / "data", min_stars=500))
    assert release.data_date == DATA_DATE
    record = release.methodology
    assert record["threshold"] == 500
    assert record["crawl"]["first_run_at"] == "2024-05-20T06:00:00Z"
    assert record["crawl"]["last_run_at"] == "2024-05-20T07:00:00Z"
    assert record["queries"]["query_sets"] == ["default"]
    assert record["taxonomy_version"] and record["labels"]["model_versions"] == ["test-model"]
    assert record["model"]["status"] == "unknown"  # no model artifact in this data folder
    assert record["unknown_crossing"] == 2 and record["repos"] == 5
    assert monthly_series(con, release=release.id).height > 0
