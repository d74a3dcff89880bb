"""The dashboard pages and the chart exports: offline, aggregated, captioned, cached per data."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from dashboards.charts import OKABE_ITO, build_chart, chart_spec
from dashboards.data import MAX_CHART_ROWS, MAX_GROUPS, REST, load_chart, lump_groups, thin_monthly
from dashboards.params import ChartParams
from stackatlas.settings import Settings
from tests.factories import add_label, seed_sample
from tests.population import seed_population
from warehouse.analytics import refresh_analytics

EXTERNAL_RESOURCE = re.compile(
    r"""<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", re.I
)
PAGES = ("/", "/share", "/new", "/category/models", "/explore", "/methodology",
         "/repository/bolt/ragkit")  # fmt: skip


@pytest.fixture
def client(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=db_path), connection=con)) as test_client:
        yield test_client


def rows_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the chart's main dataset (the largest inline one)."""
    datasets = spec.get("datasets", {})
    return max(datasets.values(), key=len) if datasets else []


# --- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_offline_html(
    client: TestClient, con: duckdb.DuckDBPyConnection, path: str
) -> None:
    seed_sample(con)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert EXTERNAL_RESOURCE.search(page) is None
    assert "≥500 stars" in page and "data to 2026-11-01" in page  # threshold and data date
    assert "release live (unreleased)" in page


def test_scripts_are_served_by_the_app(client: TestClient) -> None:
    page = client.get("/").text
    sources = re.findall(r"<script src='([^']+)'", page)
    assert len(sources) == 2 and all(src.startswith("/static/") for src in sources)
    bundle = client.get(next(src for src in sources if "vega" in src))
    assert bundle.status_code == 200 and "vegaEmbed" in bundle.text
    assert "max-age" in bundle.headers["cache-control"]
    app_js = client.get("/static/app.js")
    assert "/v1/charts/" in app_js.text and "history.replaceState" in app_js.text
    assert client.get("/static/secret.py").status_code == 404


def test_chart_page_has_controls_downloads_and_embed(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    page = client.get("/").text
    for name, value in (("basis", "crossed"), ("level", "subcategory"), ("yscale", "log")):
        assert f"name='{name}' value='{value}'" in page
    assert "name='from'" in page and "name='to'" in page
    assert "data-format=\"png\" data-dpi=\"300\"" in page and "Embed this chart" in page


def test_category_page_lists_top_repositories_and_movers(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_population(con, 120)
    page = client.get("/category/models").text
    top = page[page.index("Top repositories") : page.index("Movers")]
    names = re.findall(r"href='/repository/([^']+)'", top)
    expected = con.execute(
        "SELECT full_name FROM labelled_repositories WHERE category = 'models' "
        "AND status = 'active' ORDER BY stars DESC, id LIMIT 3"
    ).fetchall()
    assert names[:3] == [row[0] for row in expected]
    assert "data-fixed='{&quot;category&quot;: &quot;models&quot;}'" in page
    movers = page[page.index("Movers") :]
    assert "<table>" in movers


def test_unknown_category_and_repository_are_404_pages(client: TestClient) -> None:
    response = client.get("/category/nope")
    assert response.status_code == 404 and "known: applications" in response.text
    assert client.get("/repository/no/such").status_code == 404


def test_repository_page_shows_label_rationale_and_history(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    page = client.get("/repository/bolt/ragkit").text
    assert "application / app-development" in page
    history = page[page.index("Label history") :]
    assert history.count("<tr>") == 3  # header + rules label + model label
    assert "data-chart='stars'" in page


def test_html_in_data_is_escaped(client: TestClient, con: duckdb.DuckDBPyConnection) -> None:
    seed_sample(con)
    add_label(con, 101, "models", method="human", note="<script>alert(1)</script>")
    page = client.get("/repository/acme/chat-studio").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


# --- chart exports ---------------------------------------------------------------------------


def test_chart_json_is_a_captioned_vega_lite_spec(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    response = client.get("/v1/charts/stack.json?level=layer")
    assert response.status_code == 200
    spec = response.json()
    assert "vega-lite" in spec["$schema"]
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "≥500 stars" in subtitle and "data to 2026-11-01" in subtitle
    assert "Release live (unreleased)" in subtitle and "source: stackatlas" in subtitle
    rows = rows_of(spec)
    assert {row["group"] for row in rows} == {"application", "model", "infrastructure"}
    assert max(row["month"] for row in rows).startswith("2026-11")  # stops at the data date
    assert any(p.get("bind") == "legend" for p in spec["params"] if isinstance(p, dict)) or any(
        p.get("bind") == "legend" for layer in spec["layer"] for p in layer.get("params", [])
    )


def test_chart_csv_is_the_data_behind_the_chart(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/v1/charts/stack.csv").text)))
    spec_rows = rows_of(client.get("/v1/charts/stack.json").json())
    assert len(csv_rows) == len(spec_rows)
    newest = max(row["month"] for row in csv_rows)
    totals = {r["group"]: int(r["cumulative_repos"]) for r in csv_rows if r["month"] == newest}
    expected = con.execute(
        "SELECT category, count(*) FROM labelled_repositories WHERE status = 'active' "
        "AND category IS NOT NULL AND category <> 'other' GROUP BY ALL"
    ).fetchall()
    assert totals == dict(expected) and len(totals) == 5


def test_exports_have_meaningful_file_names_and_types(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    svg = client.get("/v1/charts/share.svg?level=layer&from=2023-01&download=true")
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg") and "source: stackatlas" in svg.text
    assert svg.headers["content-disposition"] == (
        'attachment; filename="stackatlas-share-layer-created-202301-end-live-2026-11-01.svg"'
    )
    csv_response = client.get("/v1/charts/new.csv?category=models&category=infrastructure")
    assert "new-category-created-models-infrastructure" in csv_response.headers[
        "content-disposition"]  # fmt: skip


@pytest.mark.slow
def test_png_screen_and_print_resolutions(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    seed_sample(con)
    screen = client.get("/v1/charts/stack.png")
    printed = client.get("/v1/charts/stack.png?dpi=300")
    for response in (screen, printed):
        assert response.status_code == 200 and response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png_width(printed.content) > 4 * png_width(screen.content) * 0.95
    assert "-300dpi.png" in printed.headers["content-disposition"]


def png_width(data: bytes) -> int:
    return int.from_bytes(data[16:20], "big")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("stack.gif", "fmt"),
        ("pie.json", "name"),
        ("stack.json?from=2024-13", "from"),
        ("stack.json?from=2024-05&to=2024-01", "to"),
        ("stack.json?category=nope", "category"),
        ("stack.json?layer=kitchen", "layer"),
        ("stack.json?level=galaxy", "level"),
        ("stack.png?dpi=5000", "dpi"),
        ("stars.json", "repo"),
        ("stars.json?repo=not-a-repo", "repo"),
    ],
)
def test_bad_chart_parameters_are_clear_422s(
    client: TestClient, query: str, parameter: str
) -> None:
    response = client.get(f"/v1/charts/{query}")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter" and parameter in error["message"]


def test_unknown_release_and_repository_are_404(client: TestClient) -> None:
    assert client.get("/v1/charts/stack.json?release=1999-01-01.1").status_code == 404
    response = client.get("/v1/charts/stars.json?repo=no/such")
    assert response.status_code == 404 and "no/such" in response.json()["error"]["message"]


def test_charts_are_rendered_once_per_data_version(
    client: TestClient, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboards.exports as exports

    seed_sample(con)
    renders: list[str] = []
    original = exports.build_chart

    def counting(data: Any) -> Any:
        renders.append(data.name)
        return original(data)

    monkeypatch.setattr(exports, "build_chart", counting)
    first = client.get("/v1/charts/stack.json").json()
    assert client.get("/v1/charts/stack.json").json() == first
    assert len(renders) == 1
    add_label(con, 108, "tutorials", method="human")
    refresh_analytics(con)  # as the pipeline does after every change of labels
    updated = client.get("/v1/charts/stack.json").json()
    assert len(renders) == 2
    assert "tutorials" in {r["group"] for r in rows_of(updated)}
    assert "tutorials" not in {r["group"] for r in rows_of(first)}


# --- chart data ------------------------------------------------------------------------------


def monthly_frame(months: int, groups: int) -> pl.DataFrame:
    month_range = pl.date_range(
        date(2000, 1, 1), date(2000 + months // 12 + 1, 1, 1), "1mo", eager=True
    ).head(months)
    return pl.concat(
        pl.DataFrame({
            "month": month_range, "layer": ["model"] * months, "category": [f"c{g}"] * months,
            "subcategory": [None] * months, "group": [f"c{g}"] * months,
            "new_repos": [g + 1] * months,
            "cumulative_repos": [(g + 1) * (m + 1) for m in range(months)],
        }, schema_overrides={"subcategory": pl.String})
        for g in range(groups)
    )  # fmt: skip


def test_thin_monthly_fits_the_limit_and_keeps_exact_totals() -> None:
    frame = monthly_frame(300, 20)  # 6,000 rows
    thinned = thin_monthly(frame)
    assert thinned.height <= MAX_CHART_ROWS
    last = frame["month"].max()
    assert thinned.filter(pl.col("month") == last).equals(frame.filter(pl.col("month") == last))
    joined = thinned.join(frame, on=["month", "group"])
    assert (joined["cumulative_repos"] == joined["cumulative_repos_right"]).all()
    small = monthly_frame(24, 3)
    assert thin_monthly(small).equals(small)


def test_lump_groups_keeps_the_largest_and_sums_the_rest() -> None:
    frame = monthly_frame(12, 12)
    lumped = lump_groups(frame, ["new_repos", "cumulative_repos"])
    groups = set(lumped["group"])
    assert len(groups) == MAX_GROUPS and REST in groups
    assert {f"c{g}" for g in range(5, 12)} <= groups  # the seven largest stay named
    for month in (frame["month"].min(), frame["month"].max()):
        before = frame.filter(pl.col("month") == month)["cumulative_repos"].sum()
        after = lumped.filter(pl.col("month") == month)["cumulative_repos"].sum()
        assert before == after


def test_subcategory_level_stays_readable(con: duckdb.DuckDBPyConnection) -> None:
    seed_population(con, 200)
    data = load_chart(con, "stack", ChartParams(level="subcategory"), 500)
    assert data.frame["group"].n_unique() <= MAX_GROUPS
    spec = chart_spec(build_chart(data))
    colour = spec["layer"][0]["encoding"]["color"]
    assert colour["scale"]["range"] == list(OKABE_ITO[: len(colour["scale"]["domain"])])
    assert len(rows_of(spec)) <= MAX_CHART_ROWS


def test_landmarks_inside_the_range_are_annotated(con: duckdb.DuckDBPyConnection) -> None:
    seed_population(con, 200)
    spec = json.dumps(chart_spec(build_chart(load_chart(con, "stack", ChartParams(), 500))))
    assert "ChatGPT" in spec and "2022-11-30" in spec
    late = ChartParams(start=date(2024, 1, 1))
    assert "ChatGPT" not in json.dumps(chart_spec(build_chart(load_chart(con, "stack", late, 500))))


def test_threshold_basis_states_how_many_crossings_are_unknown(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    from warehouse.analytics import unknown_crossing

    seed_population(con, 120)
    refresh_analytics(con)
    unknown = unknown_crossing(con)
    assert unknown > 0  # one crawl above the threshold cannot date the crossing
    spec = client.get("/v1/charts/stack.json?basis=crossed").json()
    subtitle = " ".join(spec["title"]["subtitle"])
    assert f"{unknown:,} with an unknown crossing month not drawn" in subtitle
    assert "unknown crossing" not in " ".join(
        client.get("/v1/charts/stack.json").json()["title"]["subtitle"])  # fmt: skip


def test_pages_and_charts_state_the_published_release(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    from warehouse.releases import publish_release

    seed_sample(con)
    refresh_analytics(con)
    release = publish_release(con, {"threshold": 500, "model": {"count_error": 0.04}})
    methodology = client.get("/methodology").text
    assert f"release {release.id}" in methodology and "count_error" in methodology
    assert f"href='/v1/releases/{release.id}'" in client.get("/").text
    response = client.get("/v1/charts/stack.png")
    assert f"-{release.id}.png" in response.headers["content-disposition"]
    subtitle = " ".join(client.get("/v1/charts/stack.json").json()["title"]["subtitle"])
    assert f"Release {release.id}" in subtitle


@pytest.mark.parametrize(
    ("name", "params"),
    [("stack", ChartParams(yscale="log", theme="grey")), ("share", ChartParams(level="layer")),
     ("new", ChartParams(level="subcategory")), ("stars", ChartParams(repo="bolt/ragkit")),
     ("stack", ChartParams(basis="crossed"))],
)  # fmt: skip
def test_every_kind_of_chart_is_a_valid_vega_lite_spec(
    con: duckdb.DuckDBPyConnection, name: Any, params: ChartParams
) -> None:
    seed_sample(con)
    chart = build_chart(load_chart(con, name, params, 500))
    assert "vega-lite" in chart.to_dict(validate=True)["$schema"]  # raises when invalid
