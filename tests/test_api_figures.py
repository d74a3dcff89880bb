"""The figure endpoints (counts/monthly, trends, releases) over the hand-computed fixture."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import httpx
import polars as pl
import pytest
from fastapi.testclient import TestClient

from api.answers import AnswerCache, CachedAnswer
from api.app import create_app
from api.http import IMMUTABLE_CACHE_CONTROL
from stackatlas.settings import Settings
from tests.analytics_fixture import seed_analytics
from tests.factories import add_label, add_repositories, make_repo
from warehouse.analytics import refresh_analytics
from warehouse.releases import Release, publish_release

DAY = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.fixture
def client(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    seed_analytics(con)
    with TestClient(create_app(Settings(db=db_path), connection=con)) as test_client:
        yield test_client


def publish(con: duckdb.DuckDBPyConnection) -> Release:
    refresh_analytics(con)
    return publish_release(con, {"threshold": 500}, now=DAY)


def later_crawl(con: duckdb.DuckDBPyConnection) -> None:
    later = datetime(2024, 6, 20, 6)
    new = make_repo(8, "h/eight", created=date(2024, 6, 1), stars=3000)
    add_repositories(con, [new], seen_at=later, run_id=4)
    add_label(con, 8, "models", created_at=later)
    add_label(con, 3, "infrastructure", method="human", created_at=later)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint"}
    assert body["error"]["code"] == code
    return body["error"]


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


# --- counts/monthly ----------------------------------------------------------------------------


def test_monthly_counts_say_where_they_come_from(client: TestClient) -> None:
    body = client.get("/v1/counts/monthly?basis=crossed").json()
    assert body["release"] is None  # nothing published yet: live figures
    assert body["data_date"] == "2024-05-20"
    assert (body["by"], body["basis"], body["cumulative"]) == ("category", "crossed", True)
    assert body["unknown_crossing"] == 1
    months = [item["month"] for item in body["items"]]
    assert months[0] == "2024-01" and months[-1] == "2024-05"  # no month after the data
    last = {i["category"]: i["cumulative_repos"] for i in body["items"] if i["month"] == "2024-05"}
    assert last == {"app-development": 1, "infrastructure": 1, "models": 1}


def test_monthly_counts_by_layer_and_subcategory(client: TestClient) -> None:
    layers = client.get("/v1/counts/monthly?by=layer").json()["items"]
    last = {i["layer"]: i["cumulative_repos"] for i in layers if i["month"] == "2024-05"}
    assert last == {"application": 2, "model": 1, "infrastructure": 1}
    assert {i["category"] for i in layers} == {None}
    subs = client.get("/v1/counts/monthly?by=subcategory&category=app-development").json()
    assert {i["subcategory"] for i in subs["items"]} == {"agents", "unspecified"}


def test_monthly_counts_filters_take_several_values_and_dates(client: TestClient) -> None:
    repeated = client.get(
        "/v1/counts/monthly?category=models&category=infrastructure&from=2024-03-31&to=2024-04"
    ).json()
    commas = client.get(
        "/v1/counts/monthly?category=models,infrastructure&from=2024-03&to=2024-04-02"
    ).json()
    assert repeated == commas
    assert {(i["month"], i["category"]) for i in repeated["items"]} == {
        ("2024-03", "models"), ("2024-03", "infrastructure"),
        ("2024-04", "models"), ("2024-04", "infrastructure"),
    }  # fmt: skip
    layered = client.get("/v1/counts/monthly?layer=model&layer=infrastructure").json()["items"]
    assert {i["layer"] for i in layered} == {"model", "infrastructure"}
    with_other = client.get("/v1/counts/monthly?include_other=true&basis=crossed").json()
    assert with_other["unknown_crossing"] == 2


def test_monthly_counts_without_running_total_and_as_csv(client: TestClient) -> None:
    items = client.get("/v1/counts/monthly?cumulative=false").json()["items"]
    assert {i["cumulative_repos"] for i in items} == {None}
    response = client.get("/v1/counts/monthly?cumulative=false&format=csv&basis=crossed")
    rows = rows_of(response)
    assert list(rows[0]) == ["month", "layer", "category", "subcategory", "new_repos"]
    assert response.headers["x-stackatlas-release"] == "live"
    assert response.headers["x-stackatlas-data-date"] == "2024-05-20"
    assert response.headers["x-stackatlas-unknown-crossing"] == "1"
    accepted = client.get("/v1/counts/monthly", headers={"Accept": "text/csv"})
    assert rows_of(accepted)[0]["month"] == "2023-11"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("from=2024-13", "from"),
        ("from=2024-02-30", "from"),
        ("to=2024", "to"),
        ("from=2024-05&to=2024-01", "to"),
        ("by=planet", "by"),
        ("basis=stars", "basis"),
        ("layer=model,bogus", "layer"),
        ("category=everything", "category"),
        ("cumulative=maybe", "cumulative"),
    ],
)
def test_monthly_counts_bad_params_are_422(client: TestClient, query: str, parameter: str) -> None:
    error = error_of(client.get(f"/v1/counts/monthly?{query}"), 422, "invalid_parameter")
    assert f"'{parameter}'" in error["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/counts/monthly?release=2020-01-01.1",
        "/v1/trends?release=2020-01-01.1",
        "/v1/counts/monthly?release=nonsense",
        "/v1/releases/2020-01-01.1",
        "/v1/releases/2020-01-01.1/download",
    ],
)
def test_unknown_release_is_404(client: TestClient, path: str) -> None:
    error = error_of(client.get(path), 404, "not_found")
    assert "/v1/releases" in error["hint"]


# --- trends ------------------------------------------------------------------------------------


def test_trends_hold_growth_movers_shares_stars_languages(client: TestClient) -> None:
    body = client.get("/v1/trends?window=30&by=layer").json()
    assert (body["release"], body["data_date"], body["window_days"]) == (None, "2024-05-20", 30)
    growth = {row["layer"]: row["stars_gained"] for row in body["growth"]}
    assert growth == {"application": 450, "infrastructure": 1450, "model": 300}
    movers = [(m["category"], m["rank"], m["full_name"]) for m in body["movers"]]
    assert ("app-development", 1, "c/three") in movers and ("app-development", 2, "b/two") in movers
    may = [row for row in body["shares"] if row["month"] == "2024-05"]
    assert sum(row["share"] for row in may) == pytest.approx(1.0)
    assert {row["layer"]: row["stars"] for row in body["stars"]}["application"] == 2300
    assert {(r["layer"], r["language"]) for r in body["languages"]} >= {("application", "Python")}


def test_trends_parameters(client: TestClient) -> None:
    one = client.get("/v1/trends?window=90&category=app-development&limit=1").json()
    assert [(m["full_name"], m["stars_gained"]) for m in one["movers"]] == [("c/three", 500)]
    assert {row["category"] for row in one["growth"]} == {
        "app-development", "infrastructure", "models"
    }  # fmt: skip
    error_of(client.get("/v1/trends?window=14"), 422, "invalid_parameter")
    error_of(client.get("/v1/trends?limit=0"), 422, "invalid_parameter")
    error_of(client.get("/v1/trends?category=nope"), 422, "invalid_parameter")
    error = error_of(client.get("/v1/trends?format=csv"), 422, "invalid_parameter")
    assert "'section'" in error["message"] and "movers" in error["hint"]


def test_trends_sections_as_csv(client: TestClient) -> None:
    movers = rows_of(client.get("/v1/trends?format=csv&section=movers&category=models"))
    assert [(r["full_name"], r["stars_gained"]) for r in movers] == [("a/one", "300")]
    shares = rows_of(client.get("/v1/trends?format=csv&section=shares&by=layer"))
    assert list(shares[0]) == [
        "month", "layer", "category", "new_repos", "cumulative_repos", "share", "share_of_new"
    ]  # fmt: skip


# --- releases ----------------------------------------------------------------------------------


def test_release_answers_the_same_bytes_after_later_runs(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    release = publish(con)
    paths = [
        f"/v1/counts/monthly?release={release.id}",
        f"/v1/counts/monthly?release={release.id}&basis=crossed&by=subcategory&format=csv",
        f"/v1/trends?release={release.id}&window=90",
        f"/v1/trends?release={release.id}&format=csv&section=movers",
        f"/v1/releases/{release.id}",
    ]
    before = [client.get(path) for path in paths]
    assert all(response.status_code == 200 for response in before)
    default = client.get("/v1/counts/monthly").json()
    assert default["release"] == release.id
    assert default == before[0].json()

    later_crawl(con)
    second = publish(con)

    for path, old in zip(paths, before, strict=True):
        assert client.get(path).content == old.content, path
    latest = client.get("/v1/counts/monthly").json()
    assert latest["release"] == second.id and latest["data_date"] == "2024-06-20"
    assert latest != before[0].json()


def test_release_list_detail_and_citation(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    first = publish(con)
    second = publish(con)
    body = client.get("/v1/releases").json()
    assert [item["id"] for item in body["items"]] == [second.id, first.id]
    item = body["items"][1]
    assert item["published_at"] == "2026-12-03T09:30:00Z"
    assert item["data_date"] == "2024-05-20"
    assert item["url"].endswith(f"/v1/releases/{first.id}")
    assert item["download_url"].endswith(f"/v1/releases/{first.id}/download")
    detail = client.get(f"/v1/releases/{first.id}").json()
    assert detail["methodology"] == {"threshold": 500}
    assert "labels" in detail["tables"] and "monthly" in detail["tables"]
    assert detail["citation"] == f"stackatlas release {first.id}, {item['url']}"
    rows = rows_of(client.get("/v1/releases?format=csv"))
    assert [row["id"] for row in rows] == [second.id, first.id]
    assert rows[1]["published_at"] == "2026-12-03T09:30:00Z"


def test_release_download_is_a_zip_of_parquet(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    release = publish(con)
    response = client.get(f"/v1/releases/{release.id}/download")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert f"stackatlas-{release.id}.zip" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        monthly = pl.read_parquet(io.BytesIO(archive.read("monthly.parquet")))
        labels = pl.read_parquet(io.BytesIO(archive.read("labels.parquet")))
    assert set(monthly["basis"]) == {"created", "crossed"}
    assert sorted(labels["full_name"]) == ["a/one", "b/two", "c/three", "d/four", "e/five"]
    api_total = client.get(f"/v1/counts/monthly?release={release.id}&include_other=true").json()
    last = monthly.filter((pl.col("basis") == "created") & (pl.col("month") == date(2024, 5, 1)))
    assert int(last["cumulative_repos"].sum()) == sum(
        i["cumulative_repos"] for i in api_total["items"] if i["month"] == "2024-05"
    )


def test_no_release_yet_lists_none(client: TestClient) -> None:
    assert client.get("/v1/releases").json() == {"items": []}


def test_concurrent_first_requests_all_answer(client: TestClient) -> None:
    """The first figure requests of a never-refreshed warehouse refresh it once, not in a race."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: client.get("/v1/counts/monthly"), range(12)))
    assert {response.status_code for response in responses} == {200}
    assert len({response.content for response in responses}) == 1


def test_concurrent_publishes_get_distinct_ids(con: duckdb.DuckDBPyConnection) -> None:
    seed_analytics(con)
    refresh_analytics(con)

    def publish_on_cursor(_: int) -> str:
        cursor = con.cursor()
        try:
            return publish_release(cursor, {}, now=DAY).id
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(publish_on_cursor, range(4)))
    assert sorted(ids) == [f"2026-12-03.{n}" for n in range(1, 5)]


# --- answers of a release, cached ----------------------------------------------------------------


def test_release_answers_are_cached_and_equal_a_cold_answer(
    client: TestClient, con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    release = publish(con)
    cache = client.app.state.answer_cache  # type: ignore[attr-defined]
    paths = [
        f"/v1/counts/monthly?release={release.id}&by=layer",
        "/v1/counts/monthly?by=layer",  # the latest release: same figures, another cache entry
        "/v1/trends?window=7&format=csv&section=growth",
    ]
    first = [client.get(path) for path in paths]
    hits = cache.hits
    again = [client.get(path) for path in paths]
    assert cache.hits == hits + len(paths)
    for old, new in zip(first, again, strict=True):
        assert (new.status_code, new.content, new.headers["etag"]) == (
            200, old.content, old.headers["etag"],
        )  # fmt: skip
        assert new.headers["content-type"] == old.headers["content-type"]
    assert again[0].headers["cache-control"] == IMMUTABLE_CACHE_CONTROL
    assert again[1].headers["cache-control"] != IMMUTABLE_CACHE_CONTROL  # "latest" moves on
    assert again[2].headers["x-stackatlas-release"] == release.id
    # A fresh server (empty cache) computes the very same bytes.
    with TestClient(create_app(Settings(db=db_path), connection=con)) as cold:
        for path, old in zip(paths, first, strict=True):
            assert cold.get(path).content == old.content, path
    # Parameters written differently but meaning the same thing share one entry.
    size = len(cache)
    client.get(f"/v1/counts/monthly?by=layer&release={release.id}&cumulative=true")
    assert len(cache) == size


def test_live_answers_are_never_served_stale(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    """Without a published release the figures are live: a pipeline run changes them at once."""
    before = client.get("/v1/counts/monthly?include_other=true").json()
    assert before["release"] is None
    later_crawl(con)
    refresh_analytics(con)
    after = client.get("/v1/counts/monthly?include_other=true").json()
    assert after["release"] is None and after["data_date"] == "2024-06-20"
    assert after["items"] != before["items"]
    assert len(client.app.state.answer_cache) == 0  # type: ignore[attr-defined]


def test_the_answer_cache_is_bounded() -> None:
    cache = AnswerCache(max_entries=3, max_bytes=10)
    for key in "abc":
        cache.put(key, CachedAnswer(b"xx", "application/json", ()))
    assert cache.get("a") is not None  # now the most recently used
    cache.put("d", CachedAnswer(b"xx", "application/json", ()))
    assert cache.get("b") is None and len(cache) == 3
    cache.put("e", CachedAnswer(b"x" * 9, "application/json", ()))  # over the byte bound
    assert len(cache) == 1 and cache.get("e") is not None
    cache.put("f", CachedAnswer(b"x" * 11, "application/json", ()))  # larger than the cache
    assert cache.get("f") is None and cache.get("e") is not None


def test_release_download_is_byte_identical_after_later_runs(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    release = publish(con)
    path = f"/v1/releases/{release.id}/download"
    first = client.get(path)
    assert first.status_code == 200
    later_crawl(con)
    second = publish(con)
    client.app.state.answer_cache = AnswerCache()  # type: ignore[attr-defined]  # recompute it
    again = client.get(path)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    newer = client.get(f"/v1/releases/{second.id}/download")
    assert newer.content != first.content  # another release, other figures
