"""The estimated counts on the cumulative chart: band, dashed line, captions, exports, report.

The warehouse is ``tests/analytics_fixture.py`` (hand-computed labelled counts) with estimates
stored as ``classifier/estimation.py`` stores them, so every drawn value is known here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from dashboards.charts import build_chart, chart_spec, chart_svg
from dashboards.data import ESTIMATE_COLUMNS, load_chart
from dashboards.params import ChartParams
from dashboards.report import ReportRequest, build_report
from stackatlas.settings import Settings
from tests.analytics_fixture import seed_analytics
from tests.factories import add_label
from warehouse.analytics import refresh_analytics
from warehouse.estimates import EstimateRun, labels_in_force, save_estimates, served_estimates
from warehouse.releases import publish_release

LAYERS = {"app-development": "application", "applications": "application", "models": "model",
          "infrastructure": "infrastructure", "other": "none"}  # fmt: skip
MONTHS = [date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1),
          date(2024, 3, 1), date(2024, 4, 1)]  # fmt: skip
# Cumulative (estimate, lo, hi) per category at each of MONTHS, as an estimation run stores
# them (months of the repositories' creation, so none after 2024-04).
FIRST = {
    "app-development": [(1.2, 0.8, 1.9), (1.2, 0.8, 1.9), (2.6, 1.7, 3.4), (2.6, 1.7, 3.4),
                        (2.6, 1.7, 3.4), (2.7, 1.8, 3.6)],
    "models": [(0.0, 0.0, 0.3), (0.0, 0.0, 0.3), (1.3, 0.6, 2.2), (1.5, 0.6, 2.5),
               (1.5, 0.6, 2.5), (1.6, 0.7, 2.6)],
    "infrastructure": [(0.0, 0.0, 0.0)] * 5 + [(1.4, 0.9, 2.1)],
    "applications": [(0.1, 0.0, 0.4)] * 6,
    "other": [(0.0, 0.0, 0.2)] * 2 + [(1.0, 0.6, 1.4)] * 4,
}  # fmt: skip
RUN = EstimateRun("model-a", "acc", datetime(2024, 5, 21, 7), 5, 0, 400, 0.9, 200)


def estimate_rows(values: dict[str, list[tuple[float, float, float]]]) -> pl.DataFrame:
    records = []
    for category, cumulative in values.items():
        previous = (0.0, 0.0, 0.0)
        for month, triple in zip(MONTHS, cumulative, strict=True):
            monthly = tuple(max(a - b, 0.0) for a, b in zip(triple, previous, strict=True))
            records.append({
                "month": month, "layer": LAYERS[category], "category": category,
                "estimate": monthly[0], "lo": monthly[1], "hi": monthly[2],
                "cumulative_estimate": triple[0], "cumulative_lo": triple[1],
                "cumulative_hi": triple[2],
            })  # fmt: skip
            previous = triple
    return pl.DataFrame(records)


def scaled(factor: float) -> dict[str, list[tuple[float, float, float]]]:
    return {c: [tuple(round(v * factor, 2) for v in t) for t in ts] for c, ts in FIRST.items()}


@pytest.fixture
def warehouse(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    seed_analytics(con)
    refresh_analytics(con)
    return con


@pytest.fixture
def estimated(warehouse: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    save_estimates(warehouse, RUN, estimate_rows(FIRST))
    return warehouse


@pytest.fixture
def client(estimated: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=db_path), connection=estimated)) as test_client:
        yield test_client


def layers_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every unit view of the spec (layers flattened)."""
    out = []
    for view in spec.get("layer", [spec]):
        out += layers_of(view) if "layer" in view else [view]
    return out


def parent_of(spec: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """The layer holding ``view`` (its shared encodings apply to ``view``)."""
    if any(child is view for child in spec.get("layer", [])):
        return spec
    return next(parent_of(child, view) for child in spec.get("layer", [])
                if "layer" in child)  # fmt: skip


def mark_type(view: dict[str, Any]) -> str:
    mark = view.get("mark")
    return mark["type"] if isinstance(mark, dict) else str(mark)


def main_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return max(spec["datasets"].values(), key=len)


def drawn(con: duckdb.DuckDBPyConnection, **params: Any) -> dict[str, Any]:
    return chart_spec(build_chart(load_chart(con, "stack", ChartParams(**params), 500)))


def band_values(spec: dict[str, Any]) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(month, group) → (estimate, lo, hi) as the spec's data holds them."""
    return {
        (row["month"][:7], row["group"]): tuple(row[c] for c in ESTIMATE_COLUMNS)
        for row in main_rows(spec)
        if row.get(ESTIMATE_COLUMNS[0]) is not None
    }


# --- the chart spec --------------------------------------------------------------------------


def test_band_dashed_estimate_and_solid_labelled_lines(estimated: duckdb.DuckDBPyConnection
                                                       ) -> None:  # fmt: skip
    chart = build_chart(load_chart(estimated, "stack", ChartParams(), 500))
    spec = chart.to_dict(validate=True)  # a valid Vega-Lite spec
    views = layers_of(spec)
    areas = [v for v in views if mark_type(v) == "area"]
    assert len(areas) == 1
    band = areas[0]["encoding"]
    assert (band["y"]["field"], band["y2"]["field"]) == ESTIMATE_COLUMNS[1:]
    shared = parent_of(spec, areas[0])["encoding"]
    assert shared["color"]["field"] == "group"  # band and lines coloured per group alike
    assert shared["color"]["legend"]["symbolType"] == "stroke"  # legend: lines, not fills
    assert band["opacity"]["condition"][0]["value"] < 0.5  # shaded, not opaque
    lines = {v["encoding"]["y"]["field"]: v for v in views if mark_type(v) == "line"}
    assert set(lines) == {"cumulative_repos", ESTIMATE_COLUMNS[0]}
    dash = lines[ESTIMATE_COLUMNS[0]]["encoding"]["strokeDash"]
    assert dash["field"] == "series"
    labelled, estimate = dash["scale"]["domain"]
    assert labelled == "labelled" and "estimated" in estimate and "90% interval" in estimate
    assert dash["scale"]["range"][0] == [1, 0] and len(dash["scale"]["range"][1]) == 2
    assert json.dumps(labelled) in lines["cumulative_repos"]["transform"][0]["calculate"]
    assert json.dumps(estimate) in lines[ESTIMATE_COLUMNS[0]]["transform"][0]["calculate"]
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "Solid: labelled, counted from each repository's label" in subtitle
    assert "estimated, corrected for the classifier's" in subtitle
    assert "measured confusion, 90% interval, method acc," in subtitle
    assert "model version model-a" in subtitle
    assert max(len(line) for line in spec["title"]["subtitle"][:5]) <= 55  # a phone's width


def test_band_data_is_the_stored_cumulative_estimate(estimated: duckdb.DuckDBPyConnection
                                                     ) -> None:  # fmt: skip
    values = band_values(drawn(estimated))
    for category in ("app-development", "models", "infrastructure"):
        for month, triple in zip(MONTHS, FIRST[category], strict=True):
            if (month.strftime("%Y-%m"), category) in values:
                assert values[(month.strftime("%Y-%m"), category)] == triple
        # after the last creation month the cumulative estimate stays where it was
        assert values[("2024-05", category)] == FIRST[category][-1]
    assert values[("2024-04", "infrastructure")] == (1.4, 0.9, 2.1)
    groups = {group for _, group in values}
    assert groups == {"app-development", "models", "infrastructure"}  # "other" is not drawn
    # the labelled line is unchanged beside it (hand-computed in tests/test_analytics.py)
    rows = {(r["month"][:7], r["group"]): r for r in main_rows(drawn(estimated))}
    assert rows[("2024-05", "app-development")]["cumulative_repos"] == 2
    assert rows[("2024-05", "models")]["cumulative_repos"] == 1


def test_filters_and_range_apply_to_the_estimates(estimated: duckdb.DuckDBPyConnection) -> None:
    values = band_values(drawn(estimated, categories=("models",), start=date(2024, 2, 1)))
    assert {group for _, group in values} == {"models"}
    assert min(month for month, _ in values) == "2024-02"
    assert values[("2024-02", "models")] == FIRST["models"][3]  # running total, not reset
    layered = band_values(drawn(estimated, layers=("application",)))
    assert {group for _, group in layered} == {"app-development"}


@pytest.mark.parametrize("params", [
    {"estimate": False}, {"level": "layer"}, {"level": "subcategory"}, {"basis": "crossed"},
])  # fmt: skip
def test_views_without_estimates_draw_as_before(
    estimated: duckdb.DuckDBPyConnection, params: dict[str, Any]
) -> None:
    data = load_chart(estimated, "stack", ChartParams(**params), 500)
    assert not data.estimated and not set(ESTIMATE_COLUMNS) & set(data.frame.columns)
    spec = chart_spec(build_chart(data))
    assert "area" not in {mark_type(v) for v in layers_of(spec)}
    assert "Solid: labelled" not in "\n".join(spec["title"]["subtitle"])


def test_no_estimates_draws_the_labelled_chart_without_error(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    data = load_chart(warehouse, "stack", ChartParams(), 500)
    assert data.context.estimates is None and not data.estimated
    chart = build_chart(data)
    spec = chart.to_dict(validate=True)
    views = layers_of(spec)
    assert [mark_type(v) for v in views if mark_type(v) in ("line", "area")] == ["line"]
    assert views[0]["encoding"]["strokeDash"]["field"] == "group"  # a dash per group, as before
    assert chart_svg(chart).startswith("<svg")


def test_log_scale_leaves_out_zero_estimates(estimated: duckdb.DuckDBPyConnection) -> None:
    chart = build_chart(load_chart(estimated, "stack", ChartParams(yscale="log"), 500))
    spec = chart.to_dict(validate=True)
    for row in main_rows(spec):
        for column in ESTIMATE_COLUMNS:
            assert row[column] is None or row[column] > 0
    assert "mark-area" in chart_svg(chart)


def test_svg_and_png_exports_draw_the_band(client: TestClient) -> None:
    svg = client.get("/v1/charts/stack.svg")
    assert svg.status_code == 200 and "mark-area" in svg.text
    assert "estimated, 90% interval shaded" in svg.text  # the legend entry
    hidden = client.get("/v1/charts/stack.svg?estimate=false")
    assert "mark-area" not in hidden.text
    assert "-no-estimate-" in hidden.headers["content-disposition"]
    png = client.get("/v1/charts/stack.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    spec = client.get("/v1/charts/stack.json").json()
    assert "area" in {mark_type(v) for v in layers_of(spec)}
    assert client.get("/v1/charts/stack.json?estimate=maybe").status_code == 422


def test_export_csv_has_clearly_named_estimate_columns(client: TestClient) -> None:
    response = client.get("/v1/charts/stack.csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    header = set(rows[0])
    assert {*ESTIMATE_COLUMNS, "cumulative_repos", "estimate_method",
            "estimate_model_version", "estimate_interval_level"} <= header  # fmt: skip
    row = next(r for r in rows if r["month"] == "2024-01-01" and r["group"] == "models")
    assert (float(row["estimated_cumulative"]), float(row["estimated_cumulative_lo"]),
            float(row["estimated_cumulative_hi"])) == FIRST["models"][2]  # fmt: skip
    assert (row["estimate_method"], row["estimate_model_version"]) == ("acc", "model-a")
    assert float(row["estimate_interval_level"]) == 0.9
    assert row["cumulative_repos"] == "1"  # the labelled count stays beside it
    hidden = client.get("/v1/charts/stack.csv?estimate=false").text.splitlines()[0]
    assert "estimated" not in hidden
    layer = client.get("/v1/charts/stack.csv?level=layer").text.splitlines()[0]
    assert "estimated" not in layer


# --- releases --------------------------------------------------------------------------------


def test_a_release_pinned_chart_draws_the_frozen_estimates(
    estimated: duckdb.DuckDBPyConnection, client: TestClient
) -> None:
    first = publish_release(estimated, {"threshold": 500}, now=datetime(2024, 5, 22, 8))
    newer = EstimateRun("model-b", "pacc", datetime(2024, 5, 23, 7), 5, 1, 400, 0.8, 200)
    save_estimates(estimated, newer, estimate_rows(scaled(2.0)))
    add_label(estimated, 4, "infrastructure", method="human")
    refresh_analytics(estimated)
    second = publish_release(estimated, {"threshold": 500}, now=datetime(2024, 5, 24, 8))

    pinned = drawn(estimated, release=first.id)
    assert band_values(pinned)[("2024-04", "models")] == FIRST["models"][-1]
    assert "model version model-a" in " ".join(pinned["title"]["subtitle"])
    latest = drawn(estimated)  # the latest release by default
    assert band_values(latest)[("2024-04", "models")] == scaled(2.0)["models"][-1]
    subtitle = " ".join(latest["title"]["subtitle"])
    assert "method pacc" in subtitle and "80% interval" in subtitle and "model-b" in subtitle
    assert "1 of 5 labels human-confirmed" in subtitle
    assert "0 of 5 labels human-confirmed" in "\n".join(pinned["title"]["subtitle"])
    # through the API, with the release in the query
    via_api = client.get(f"/v1/charts/stack.csv?release={first.id}").text
    assert "model-a" in via_api and "model-b" not in via_api
    assert served_estimates(estimated, second.id).method == "pacc"  # type: ignore[union-attr]


def test_a_release_published_before_any_estimate_draws_none(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    early = publish_release(warehouse, {"threshold": 500}, now=datetime(2024, 5, 22, 8))
    save_estimates(warehouse, RUN, estimate_rows(FIRST))
    data = load_chart(warehouse, "stack", ChartParams(release=early.id), 500)
    assert data.context.estimates is None and not data.estimated
    assert served_estimates(warehouse) is not None  # the live set exists, the release has none


# --- pages -----------------------------------------------------------------------------------


def test_page_says_which_line_is_which_and_how_many_labels_are_confirmed(
    estimated: duckdb.DuckDBPyConnection, client: TestClient
) -> None:
    add_label(estimated, 1, "models", method="human")
    add_label(estimated, 3, "app-development", method="human")
    page = client.get("/").text
    assert "name='estimate' value='false'" in page  # the toggle
    assert "Solid lines: labelled, counted from each repository&#x27;s label" in page
    assert "Dashed lines and shaded bands: estimated" in page
    assert "90% interval, method acc, model version model-a" in page
    expected = f"2 of {labels_in_force(estimated)} labels human-confirmed"
    assert f"<span id='human-confirmed'>{expected}</span>" in page
    assert labels_in_force(estimated) == 5  # a/one, b/two, c/three, d/four, e/five (other)
    methodology = " ".join(client.get("/methodology").text.split())
    assert "method <code>acc</code>" in methodology and expected in methodology
    assert "its 90% interval a shaded band" in methodology
    # the count follows the release the page shows
    publish_release(estimated, {"threshold": 500}, now=datetime(2024, 5, 22, 8))
    add_label(estimated, 2, "app-development", method="human")
    assert expected in client.get("/").text  # the release froze 2 confirmations, not 3


def test_pages_without_estimates_have_no_toggle(
    warehouse: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    with TestClient(create_app(Settings(db=db_path), connection=warehouse)) as client:
        page = client.get("/").text
        assert "name='estimate'" not in page and "Dashed lines" not in page
        assert "0 of 5 labels human-confirmed" in page
        assert "No estimated counts in release live (unreleased)" in " ".join(
            client.get("/methodology").text.split())
        assert client.get("/v1/charts/stack.json").status_code == 200


# --- the writers' report ---------------------------------------------------------------------


def test_report_states_method_interval_model_and_human_confirmed(
    estimated: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    add_label(estimated, 1, "models", method="human")
    refresh_analytics(estimated)
    release = publish_release(estimated, {"threshold": 500}, now=datetime(2024, 5, 22, 8))
    build_report(estimated, tmp_path, ReportRequest(start=date(2024, 1, 1)))
    markdown = (tmp_path / "report.md").read_text()
    methodology = markdown.split("## Methodology", 1)[1].split("\n## ", 1)[0]
    assert "Estimation method: acc; interval level: 90%; model version: model-a" in methodology
    assert "1 of 5 labels human-confirmed" in methodology
    assert "corrected for the classifier's measured confusion" in methodology
    record = json.loads((tmp_path / "methodology.json").read_text())
    assert record["release"] == release.id
    assert record["counts"]["estimates"]["method"] == "acc"
    assert record["counts"]["estimates"]["interval_level"] == 0.9
    assert (record["counts"]["human_confirmed"], record["counts"]["labels"]) == (1, 5)
    rows = list(csv.DictReader((tmp_path / "data" / "chart-stack-category.csv").open()))
    models = next(r for r in rows if r["month"] == "2024-04-01" and r["group"] == "models")
    assert float(models["estimated_cumulative_hi"]) == FIRST["models"][-1][2]
    assert "mark-area" in (tmp_path / "charts" / "stack-category.svg").read_text()
    assert "mark-area" in (tmp_path / "charts" / "stack-category-grey.svg").read_text()
    html = (tmp_path / "report.html").read_text()
    assert "Dashed lines with shaded bands: estimated counts" in html
    assert "models 2 (1–3)" in html  # the alt text's newest estimate, rounded as stated


def test_report_without_estimates_says_so(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    build_report(warehouse, tmp_path, ReportRequest())
    markdown = (tmp_path / "report.md").read_text()
    assert "Estimated counts: none in release live (unreleased)" in markdown
    assert "0 of 5 labels human-confirmed" in markdown
    header = (tmp_path / "data" / "chart-stack-category.csv").read_text().splitlines()[0]
    assert "estimated" not in header


def test_band_beside_landmarks_on_a_long_series(con: duckdb.DuckDBPyConnection) -> None:
    from bench.synthetic import store_estimates
    from tests.population import seed_population

    seed_population(con, 200)
    refresh_analytics(con)
    store_estimates(con)
    chart = build_chart(load_chart(con, "stack", ChartParams(), 500))
    spec = chart.to_dict(validate=True)
    marks = [mark_type(v) for v in layers_of(spec)]
    assert marks.count("area") == 1 and "rule" in marks and "ChatGPT" in json.dumps(spec)
    assert len(spec["datasets"]) == 1  # the rows once, shared by the layers
    assert "mark-area" in chart_svg(chart)
