"""The dashboard page and the chart renderings: offline, aggregated, cached per data version."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from fastapi.testclient import TestClient

import dashboards.page as page_module
from api.app import create_app
from dashboards.charts import (
    MAX_CHART_ROWS,
    chart_html,
    chart_png,
    chart_spec,
    chart_svg,
    cumulative_chart,
    thin_monthly,
)
from stackatlas.settings import Settings
from tests.factories import add_label, seed_sample
from warehouse.counts import monthly_counts

EXTERNAL_RESOURCE = re.compile(
    r"""<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", re.I
)


@pytest.fixture
def client(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=db_path), connection=con)) as test_client:
        yield test_client


def embedded_spec(page: str) -> dict[str, object]:
    match = re.search(r'vegaEmbed\("#chart", (\{.*?\}), \{"renderer"', page, re.S)
    assert match, "no chart embedded in the page"
    return json.loads(match.group(1).replace("<\\/", "</"))


def chart_rows(spec: dict[str, object]) -> list[dict[str, object]]:
    datasets = spec["datasets"]
    assert isinstance(datasets, dict) and len(datasets) == 1
    return next(iter(datasets.values()))


def test_dashboard_embeds_the_chart_and_works_offline(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert EXTERNAL_RESOURCE.search(page) is None
    assert "window.vegaEmbed" in page  # the libraries are inline
    spec = embedded_spec(page)
    assert "vega-lite" in str(spec["$schema"])
    rows = chart_rows(spec)
    assert {row["category"] for row in rows} == {
        "applications", "app-development", "models", "model-development", "infrastructure"
    }  # fmt: skip
    assert len(rows) == monthly_counts(con).height < MAX_CHART_ROWS
    assert spec["encoding"]["color"]["field"] == "category"
    assert spec["encoding"]["tooltip"]


def test_dashboard_shows_the_layer_summary_and_links(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    page = client.get("/").text
    summary = page[page.index("Repositories per layer") :]
    assert re.search(r"<td>model</td><td class='n'>2</td>", summary)
    assert "model-development (1)" in summary
    assert re.search(r"<td>all</td><td class='n'>7</td>", summary)
    for href in ("/docs", "/v1/repos", "/v1/counts/monthly?format=csv", "/v1/summary"):
        assert f"href='{href}'" in page


def test_empty_warehouse_page_says_what_to_do(client: TestClient) -> None:
    page = client.get("/").text
    assert "No labelled repositories yet" in page
    assert "vegaEmbed(" not in page


def test_page_is_rendered_once_per_data_version(
    client: TestClient, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_sample(con)
    renders: list[int] = []
    original = page_module.render_dashboard

    def counting_render(data: page_module.DashboardData) -> str:
        renders.append(1)
        return original(data)

    monkeypatch.setattr(page_module, "render_dashboard", counting_render)
    first = client.get("/").text
    assert client.get("/").text == first
    assert len(renders) == 1

    add_label(con, 108, "tutorials", method="human")
    updated = client.get("/").text
    assert len(renders) == 2
    assert "tutorials" in updated and "tutorials" not in first


def test_label_changes_through_the_api_refresh_the_page(
    con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    from pydantic import SecretStr

    seed_sample(con)
    settings = Settings(db=db_path, api_key=SecretStr("k"))
    with TestClient(create_app(settings, connection=con)) as client:
        assert "lists (1)" not in client.get("/").text
        response = client.put(
            "/v1/repos/newco/fresh-tool/label",
            json={"category": "lists"},
            headers={"X-API-Key": "k"},
        )
        assert response.status_code == 200
        assert "lists (1)" in client.get("/").text


# --- charts ----------------------------------------------------------------------------------


def monthly_frame(months: int, categories: int) -> pl.DataFrame:
    month_range = pl.date_range(
        date(2000, 1, 1), date(2000 + months // 12 + 1, 1, 1), "1mo", eager=True
    )
    month_range = month_range.head(months)
    frames = [
        pl.DataFrame(
            {
                "month": month_range,
                "layer": ["model"] * months,
                "category": [f"c{c}"] * months,
                "new_repos": [1] * months,
                "cumulative_repos": list(range(1, months + 1)),
            }
        )
        for c in range(categories)
    ]
    return pl.concat(frames)


def test_thin_monthly_keeps_small_series_whole() -> None:
    frame = monthly_frame(24, 3)
    assert thin_monthly(frame).equals(frame)


def test_thin_monthly_fits_the_limit_and_keeps_exact_totals() -> None:
    frame = monthly_frame(300, 20)  # 6,000 rows
    thinned = thin_monthly(frame)
    assert thinned.height <= MAX_CHART_ROWS
    last_month = frame["month"].max()
    assert thinned.filter(pl.col("month") == last_month)["cumulative_repos"].to_list() == [300] * 20
    # every kept value is the true cumulative value of its month
    assert (
        thinned.join(frame, on=["month", "category"])
        .filter(pl.col("cumulative_repos") != pl.col("cumulative_repos_right"))
        .is_empty()
    )


def test_large_series_still_make_a_chart() -> None:
    spec = chart_spec(cumulative_chart(monthly_frame(300, 20)))
    assert len(chart_rows(spec)) <= MAX_CHART_ROWS


@pytest.fixture(scope="module")
def small_chart() -> object:
    return cumulative_chart(monthly_frame(24, 3))


def test_chart_html_is_standalone_and_offline(small_chart: object) -> None:
    document = chart_html(small_chart)
    assert document.lstrip().lower().startswith("<!doctype html>")
    assert EXTERNAL_RESOURCE.search(document) is None
    assert "cumulative_repos" in document


@pytest.mark.slow
def test_chart_png_and_svg(small_chart: object) -> None:
    png = chart_png(small_chart, scale=1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    svg = chart_svg(small_chart)
    assert svg.startswith("<svg") and "c2" in svg  # the legend names the categories
