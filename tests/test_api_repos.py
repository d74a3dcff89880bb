"""GET /v1/repos in depth: several values per filter, ranges, facets, cursor pages, fields;
the repository page's star series; label validation; timestamps with a zone."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.routes.repos import SORT_KEYS
from stackatlas.settings import Settings
from tests.factories import Sample, add_label, add_repositories, make_repo, seed_sample

API_KEY = "test-key-123"


@pytest.fixture
def sample(con: duckdb.DuckDBPyConnection) -> Sample:
    return seed_sample(con)


@pytest.fixture
def client(con: duckdb.DuckDBPyConnection, db_path: Path, sample: Sample) -> Iterator[TestClient]:
    settings = Settings(db=db_path, api_key=SecretStr(API_KEY))
    with TestClient(create_app(settings, connection=con)) as test_client:
        yield test_client


def error_of(response: httpx.Response, status: int = 422) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "hint"}
    return body["error"]


def names(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["full_name"] for item in response.json()["items"]}


# --- several values, ranges ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=models&category=infrastructure", {"tensorlab/tiny-llm", "serveit/llm-serve"}),
        ("category=models,infrastructure", {"tensorlab/tiny-llm", "serveit/llm-serve"}),
        (
            "category=models,infrastructure&category=applications",
            {"tensorlab/tiny-llm", "serveit/llm-serve", "acme/chat-studio"},
        ),
        ("layer=model,infrastructure", {"tensorlab/tiny-llm", "quantfast/q4", "serveit/llm-serve"}),
        ("language=go,RUST", {"webby/web-framework", "newco/fresh-tool"}),
        ("language=go&language=typescript", {"webby/web-framework", "acme/chat-studio"}),
        ("max_stars=900", {"tensorlab/tiny-llm", "newco/fresh-tool"}),
        ("min_stars=2500&max_stars=12000", {"quantfast/q4", "acme/chat-studio", "bolt/ragkit"}),
        ("created_from=2023-05-02", {"bolt/ragkit", "tensorlab/tiny-llm", "newco/fresh-tool"}),
        ("created_from=2023-01-15&created_to=2023-05-02",
         {"serveit/llm-serve", "acme/chat-studio", "bolt/ragkit"}),
        ("created_to=2021-03-01", {"webby/web-framework"}),
        ("layer=model&language=c%2B%2B", {"quantfast/q4"}),
    ],
)  # fmt: skip
def test_filters_take_several_values_and_ranges(
    client: TestClient, query: str, expected: set[str]
) -> None:
    response = client.get(f"/v1/repos?{query}")
    assert names(response) == expected
    assert response.json()["total"] == len(expected)


def test_subcategory_and_archived_filters(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    archived = make_repo(201, "old/archived-rag", created=date(2022, 1, 1), stars=1500)
    archived.archived = True
    add_repositories(con, [archived])
    add_label(con, 201, "app-development", subcategory="agents")
    add_label(con, 101, "applications", subcategory="bots")
    assert names(client.get("/v1/repos?archived=true")) == {"old/archived-rag"}
    assert "old/archived-rag" not in names(client.get("/v1/repos?archived=false"))
    assert names(client.get("/v1/repos?subcategory=agents,bots")) == {
        "old/archived-rag", "acme/chat-studio"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("category=models,chatbots", "category"),
        ("subcategory=<b>x</b>", "subcategory"),
        ("layer=model,web", "layer"),
        ("max_stars=10&min_stars=20", "max_stars"),
        ("created_from=2024-01-01&created_to=2023-01-01", "created_to"),
        ("created_from=2024-13-01", "created_from"),
        ("created_to=yesterday", "created_to"),
        ("archived=maybe", "archived"),
        ("fields=full_name,secret", "fields"),
        ("facet=colour", "facet"),
        ("category=" + ",".join(["models"] * 51), "category"),
        ("min_stars=99999999999", "min_stars"),
        ("limit=100000000000000000000000", "limit"),
        ("offset=100000000000000000000000", "offset"),
        ("offset=100001", "offset"),
        ("limit=501", "limit"),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(
    client: TestClient, query: str, parameter: str
) -> None:
    error = error_of(client.get(f"/v1/repos?{query}"))
    assert error["code"] == "invalid_parameter"
    assert f"'{parameter}'" in error["message"]


# --- facets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("filters", ["", "layer=model,application", "min_stars=1000", "status=all"])
def test_facet_counts_equal_the_filtered_totals(client: TestClient, filters: str) -> None:
    body = client.get(f"/v1/repos?{filters}&facet=category&facet=language&facet=status").json()
    assert set(body["facets"]) == {"category", "language", "status"}
    for facet in ("category", "language", "status"):
        values = body["facets"][facet]["values"]
        assert sum(v["count"] for v in values) == body["total"]
        assert body["facets"][facet]["truncated"] is False
        counts = [v["count"] for v in values]
        assert counts == sorted(counts, reverse=True)
        for value in values:
            if value["value"] is None:
                continue
            params = dict(httpx.QueryParams(filters))
            params[facet] = value["value"]
            assert client.get("/v1/repos", params=params).json()["total"] == value["count"]


def test_facet_of_unlabelled_is_null(client: TestClient) -> None:
    values = client.get("/v1/repos?facet=category").json()["facets"]["category"]["values"]
    assert {"value": None, "count": 1} in values  # newco/fresh-tool has no label


def test_no_facets_unless_asked(client: TestClient) -> None:
    assert client.get("/v1/repos").json()["facets"] == {}


# --- cursor pages ----------------------------------------------------------------------------


def walk(client: TestClient, url: str) -> tuple[list[str], int]:
    """Follow `next` from ``url``; the names of every page's items and the number of pages."""
    seen: list[str] = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(item["full_name"] for item in body["items"])
        pages += 1
        link = response.headers.get("link")
        assert (link is None) == (body["next"] is None)
        if link is not None:
            assert link == f'<{body["next"]}>; rel="next"'
        url = body["next"]
        assert pages < 50
    return seen, pages


@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("direction", ["", "-"])
def test_cursor_walk_returns_every_row_once_in_order(
    client: TestClient, key: str, direction: str
) -> None:
    everything = [
        i["full_name"]
        for i in client.get(f"/v1/repos?status=all&sort={direction}{key}").json()["items"]
    ]
    seen, pages = walk(client, f"/v1/repos?status=all&sort={direction}{key}&limit=2")
    assert seen == everything and len(seen) == 8
    assert pages == 4  # the last page says it is the last: no empty fifth page


def test_cursor_walk_with_filters_and_ties(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    tied = [
        make_repo(300 + i, f"tie/repo-{i}", created=date(2024, 2, 1), stars=777) for i in range(7)
    ]
    add_repositories(con, tied)
    seen, _ = walk(client, "/v1/repos?max_stars=800&sort=-stars&limit=3")
    assert sorted(seen) == sorted({*(r.full_name for r in tied), "tensorlab/tiny-llm"})
    assert len(seen) == len(set(seen)) == 8


def test_cursor_keeps_other_parameters(client: TestClient) -> None:
    body = client.get("/v1/repos?layer=model,application&limit=1&format=json").json()
    assert "layer=model%2Capplication" in body["next"] and "cursor=" in body["next"]
    assert body["next_cursor"] in body["next"]


def test_a_full_last_page_has_no_next(client: TestClient) -> None:
    body = client.get("/v1/repos?limit=7").json()
    assert len(body["items"]) == 7 and body["next"] is None and body["next_cursor"] is None
    body = client.get("/v1/repos?limit=6").json()
    last = client.get(body["next"]).json()
    assert len(last["items"]) == 1 and last["next"] is None and last["total"] == 7


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(json.dumps(["-stars", "many", 1]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["-stars", 5, 2**70]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["name", "\ud800", 1]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["created", "noon", 1]).encode()).decode(),
    ],
)
def test_bad_cursor_is_422(client: TestClient, cursor: str) -> None:
    error = error_of(client.get(f"/v1/repos?cursor={cursor}"))
    assert "'cursor'" in error["message"] and "next_cursor" in error["hint"]


def test_cursor_of_another_sort_or_with_offset_is_422(client: TestClient) -> None:
    token = client.get("/v1/repos?limit=1").json()["next_cursor"]
    assert "sort=-stars" in error_of(client.get(f"/v1/repos?sort=name&cursor={token}"))["hint"]
    assert "'offset'" in error_of(client.get(f"/v1/repos?offset=1&cursor={token}"))["message"]


# --- fields and CSV ------------------------------------------------------------------------


def test_fields_select_item_properties(client: TestClient) -> None:
    body = client.get("/v1/repos?fields=full_name,stars&limit=3").json()
    assert [set(item) for item in body["items"]] == [{"full_name", "stars"}] * 3
    assert body["items"][0] == {"full_name": "webby/web-framework", "stars": 60000}
    labelled = client.get("/v1/repos?fields=label&fields=id&category=models").json()["items"]
    assert labelled == [{"label": {
        "layer": "model", "category": "models", "subcategory": None, "confidence": 0.9,
        "method": "model"}, "id": 103}]  # fmt: skip


def test_csv_honours_fields_filters_and_paging_headers(client: TestClient) -> None:
    response = client.get("/v1/repos?format=csv&fields=full_name,label,created_at&limit=2")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "full_name", "layer", "category", "subcategory", "confidence", "method", "created_at"
    ]  # fmt: skip
    assert rows[0]["created_at"] == "2021-03-01T00:00:00Z"
    assert response.headers["x-total-count"] == "7"
    assert 'rel="next"' in response.headers["link"] and "format=csv" in response.headers["link"]


# --- one repository ----------------------------------------------------------------------------


def test_repository_has_star_series_and_zoned_times(client: TestClient) -> None:
    body = client.get("/v1/repos/bolt/ragkit").json()
    assert body["star_series"] == [
        {"month": "2026-10", "stars": 9000},
        {"month": "2026-11", "stars": 12000},
    ]
    assert body["created_at"] == "2023-05-02T00:00:00Z"
    assert body["first_seen_at"].endswith("Z") and body["last_seen_at"].endswith("Z")
    assert all(o["observed_at"].endswith("Z") for o in body["observations"])
    assert all(h["created_at"].endswith("Z") for h in body["label_history"])
    assert body["label"]["created_at"] == "2026-11-01T06:00:00Z"
    listed = client.get("/v1/repos?q=ragkit").json()["items"][0]
    assert listed["created_at"] == "2023-05-02T00:00:00Z"


# --- PUT label: only the taxonomy's values ------------------------------------------------------


def put(client: TestClient, body: object) -> httpx.Response:
    return client.put(
        "/v1/repos/bolt/ragkit/label",
        content=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"category": "models", "subcategory": "agents"}, "subcategory"),
        ({"category": "models", "subcategory": "<script>alert(1)</script>"}, "subcategory"),
        ({"category": "other", "subcategory": "coding"}, "subcategory"),
        ({"category": "models", "note": "x" * 2001}, "note"),
        (b'{"category": "models", "note": "bad \\ud800 text"}', "note"),
        (b'{"category": "models", "subcategory": "\\udfff"}', "subcategory"),
    ],
)
def test_label_refuses_values_outside_the_taxonomy(
    client: TestClient, body: object, parameter: str
) -> None:
    error = error_of(put(client, body))
    assert error["code"] == "invalid_parameter" and parameter in error["message"]
    history = client.get("/v1/repos/bolt/ragkit").json()["label_history"]
    assert [label["method"] for label in history] == ["rules", "model"]


def test_label_with_subcategory_of_its_category_is_stored(client: TestClient) -> None:
    response = put(client, {"category": "models", "subcategory": "language", "note": "ünïcode ✓"})
    assert response.status_code == 200, response.text
    label = response.json()
    assert (label["category"], label["subcategory"], label["note"]) == (
        "models", "language", "ünïcode ✓"
    )  # fmt: skip
    assert label["created_at"].endswith("Z")
    assert names(client.get("/v1/repos?subcategory=language")) == {"bolt/ragkit"}
