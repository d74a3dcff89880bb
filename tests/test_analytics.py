"""The analytics tables against a hand-computed fixture (``tests/analytics_fixture.py``)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import polars as pl
import pytest

from tests.analytics_fixture import DATA_DATE, seed_analytics
from tests.factories import add_label
from warehouse.analytics import (
    data_date,
    growth,
    language_mix,
    monthly_series,
    movers,
    refresh_analytics,
    shares,
    stars_by_layer,
    unknown_crossing,
)


@pytest.fixture
def analytics(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    seed_analytics(con)
    refresh_analytics(con)
    return con


def _cumulative(frame: pl.DataFrame, key: str) -> dict[tuple[str, str], int]:
    return {
        (row["month"].strftime("%Y-%m"), row[key]): row["cumulative_repos"]
        for row in frame.to_dicts()
    }


def _months(start: str, end: str) -> list[str]:
    months = pl.date_range(date.fromisoformat(start + "-01"), date.fromisoformat(end + "-01"),
                           interval="1mo", eager=True)  # fmt: skip
    return [m.strftime("%Y-%m") for m in months]


def test_created_basis_counts_by_creation_month(analytics: duckdb.DuckDBPyConnection) -> None:
    frame = monthly_series(analytics, by="category", basis="created")
    assert frame.columns == [
        "month", "layer", "category", "subcategory", "new_repos", "cumulative_repos"
    ]  # fmt: skip
    assert frame["subcategory"].null_count() == frame.height
    cumulative = _cumulative(frame, "category")
    assert [cumulative[(m, "app-development")] for m in _months("2023-11", "2024-05")] == [
        1, 1, 2, 2, 2, 2, 2,
    ]  # fmt: skip
    assert [cumulative[(m, "models")] for m in _months("2023-11", "2024-05")] == [
        0, 0, 1, 1, 1, 1, 1,
    ]  # fmt: skip
    assert cumulative[("2024-03", "infrastructure")] == 0
    assert cumulative[("2024-04", "infrastructure")] == 1
    new = {(r["month"].strftime("%Y-%m"), r["category"]): r["new_repos"] for r in frame.to_dicts()}
    assert new[("2024-01", "app-development")] == 1 and new[("2024-02", "app-development")] == 0


def test_crossed_basis_uses_history_then_observations(analytics: duckdb.DuckDBPyConnection) -> None:
    frame = monthly_series(analytics, by="category", basis="crossed")
    months = sorted({m.strftime("%Y-%m") for m in frame["month"]})
    # c/three's star history says 2024-01: the series starts there
    assert months == _months("2024-01", "2024-05")
    cumulative = _cumulative(frame, "category")
    # b/two was above 500 when first seen: unknown, so app-development holds c/three only
    assert cumulative[("2024-05", "app-development")] == 1
    assert cumulative[("2024-01", "app-development")] == 1
    # a/one was seen below (400) then above in 2024-04; d/four was created in 2024-04
    assert cumulative[("2024-03", "models")] == 0 and cumulative[("2024-04", "models")] == 1
    assert cumulative[("2024-03", "infrastructure")] == 0
    assert cumulative[("2024-04", "infrastructure")] == 1


def test_unknown_crossing_is_counted(analytics: duckdb.DuckDBPyConnection) -> None:
    assert unknown_crossing(analytics) == 1  # b/two
    assert unknown_crossing(analytics, include_other=True) == 2  # and e/five
    assert unknown_crossing(analytics, categories=["models"]) == 0
    meta = analytics.execute("SELECT repos, unknown_crossing FROM analytics_meta").fetchall()
    assert meta == [(5, 2)]


def test_series_stop_at_the_data_date(analytics: duckdb.DuckDBPyConnection) -> None:
    assert data_date(analytics) == DATA_DATE
    for basis in ("created", "crossed"):
        frame = monthly_series(analytics, basis=basis, include_other=True)
        assert frame["month"].max() == date(2024, 5, 1)  # not today: no flat tail


def test_layer_and_subcategory_levels(analytics: duckdb.DuckDBPyConnection) -> None:
    layers = monthly_series(analytics, by="layer")
    last = {r["layer"]: r["cumulative_repos"] for r in layers.to_dicts()
            if r["month"] == date(2024, 5, 1)}  # fmt: skip
    assert last == {"application": 2, "model": 1, "infrastructure": 1}
    assert layers["category"].null_count() == layers.height
    subs = monthly_series(analytics, by="subcategory", categories=["app-development"])
    last_subs = {r["subcategory"]: r["cumulative_repos"] for r in subs.to_dicts()
                 if r["month"] == date(2024, 5, 1)}  # fmt: skip
    assert last_subs == {"agents": 1, "unspecified": 1}


def test_filters_range_and_non_cumulative(analytics: duckdb.DuckDBPyConnection) -> None:
    frame = monthly_series(
        analytics, layers=["application", "model"], start=date(2024, 2, 14), end=date(2024, 3, 1)
    )
    assert sorted({m.strftime("%Y-%m") for m in frame["month"]}) == ["2024-02", "2024-03"]
    assert set(frame["category"]) == {"app-development", "models"}
    # the cumulative count still includes repositories created before the range
    assert _cumulative(frame, "category")[("2024-02", "app-development")] == 2
    plain = monthly_series(analytics, cumulative=False)
    assert plain["cumulative_repos"].null_count() == plain.height
    with_other = monthly_series(analytics, include_other=True)
    assert "other" in set(with_other["category"])
    assert "other" not in set(monthly_series(analytics)["category"])


def test_shares_sum_to_one_every_month(analytics: duckdb.DuckDBPyConnection) -> None:
    for by in ("layer", "category"):
        frame = shares(analytics, by=by)
        totals = frame.group_by("month").agg(pl.col("share").sum())
        assert totals["share"].to_list() == pytest.approx([1.0] * totals.height)
    layers = shares(analytics, by="layer").filter(pl.col("month") == date(2024, 5, 1))
    assert dict(zip(layers["layer"], layers["share"], strict=True)) == pytest.approx(
        {"application": 0.5, "model": 0.25, "infrastructure": 0.25}
    )
    new = shares(analytics, by="layer").filter(pl.col("month") == date(2024, 4, 1))
    assert dict(zip(new["layer"], new["share_of_new"], strict=True)) == pytest.approx(
        {"application": 0.0, "model": 0.0, "infrastructure": 1.0}
    )


def test_growth_per_window(analytics: duckdb.DuckDBPyConnection) -> None:
    def by_category(window: int) -> dict[str, tuple[int, int, int]]:
        frame = growth(analytics, window_days=window)
        return {r["category"]: (r["repos"], r["repos_with_history"], r["stars_gained"])
                for r in frame.to_dicts()}  # fmt: skip

    # 30 days: baseline is the 2024-04-20 crawl
    assert by_category(30) == {
        "app-development": (2, 2, 400 + 50), "infrastructure": (1, 1, 1450), "models": (1, 1, 300)
    }  # fmt: skip
    # 90 days: baseline is the 2024-02-15 crawl; d/four did not exist yet
    assert by_category(90) == {
        "app-development": (2, 2, 500 + 100), "infrastructure": (1, 0, 0), "models": (1, 1, 500)
    }  # fmt: skip
    # 7 days: no crawl between 14 and 7 days before the data date
    assert {v[1] for v in by_category(7).values()} == {0}
    layers = growth(analytics, window_days=30, by="layer")
    assert dict(zip(layers["layer"], layers["stars_gained"], strict=True)) == {
        "application": 450, "infrastructure": 1450, "model": 300
    }  # fmt: skip


def test_movers_rank_by_stars_gained(analytics: duckdb.DuckDBPyConnection) -> None:
    frame = movers(analytics, window_days=30, category="app-development")
    assert frame.select("rank", "full_name", "stars", "stars_gained").rows() == [
        (1, "c/three", 1500, 400), (2, "b/two", 800, 50)
    ]  # fmt: skip
    assert movers(analytics, window_days=30, category="app-development", limit=1).height == 1
    everything = movers(analytics, window_days=90)
    assert set(everything["full_name"]) == {"a/one", "b/two", "c/three"}
    with pytest.raises(ValueError, match="window_days"):
        movers(analytics, window_days=14)


def test_stars_and_languages_per_layer(analytics: duckdb.DuckDBPyConnection) -> None:
    stars = stars_by_layer(analytics)
    assert stars.select("layer", "repos", "stars").rows() == [
        ("application", 2, 2300), ("infrastructure", 1, 2000), ("model", 1, 900)
    ]  # fmt: skip
    assert stars["share"].sum() == pytest.approx(1.0)
    languages = language_mix(analytics).filter(pl.col("layer") == "application")
    assert languages.select("language", "repos", "share").rows() == [
        ("Python", 1, 0.5), ("TypeScript", 1, 0.5)
    ]  # fmt: skip


def test_refresh_follows_a_relabel(analytics: duckdb.DuckDBPyConnection) -> None:
    add_label(analytics, 2, "models", method="human", created_at=datetime(2024, 1, 1))
    refresh_analytics(analytics)
    # a human label wins over the newer model label
    last = monthly_series(analytics, end=date(2024, 5, 1)).filter(
        pl.col("month") == date(2024, 5, 1)
    )
    assert dict(zip(last["category"], last["cumulative_repos"], strict=True)) == {
        "app-development": 1, "infrastructure": 1, "models": 2
    }  # fmt: skip


def test_empty_warehouse_refreshes_to_nothing(con: duckdb.DuckDBPyConnection) -> None:
    refresh_analytics(con)
    assert data_date(con) is None
    assert monthly_series(con).height == 0
    assert unknown_crossing(con) == 0


def test_a_current_labels_table_is_read_as_is(analytics: duckdb.DuckDBPyConnection) -> None:
    """Where the labels in force are a table, the refresh reads it (same figures as the pick)."""
    before = monthly_series(analytics, by="subcategory", include_other=True)
    analytics.execute(
        "CREATE TABLE labels_table AS SELECT * FROM current_labels; DROP VIEW current_labels; "
        "ALTER TABLE labels_table RENAME TO current_labels"
    )
    refresh_analytics(analytics)
    assert monthly_series(analytics, by="subcategory", include_other=True).equals(before)
    analytics.execute(
        "UPDATE current_labels SET layer = 'model', category = 'models' WHERE repo_id = 2"
    )
    refresh_analytics(analytics)
    last = monthly_series(analytics).filter(pl.col("month") == date(2024, 5, 1))
    assert dict(zip(last["category"], last["cumulative_repos"], strict=True))["models"] == 2
