"""The REST API against a seeded throwaway warehouse (in-process, FastAPI's TestClient)."""

from __future__ import annotations

import csv
import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.server import server_for
from classifier.taxonomy import CATEGORIES, LAYERS, TAXONOMY_VERSION
from stackatlas.settings import Settings
from tests.factories import Sample, add_label, seed_sample
from warehouse.db import connect
from warehouse.schema import LATEST_VERSION

API_KEY = "test-key-123"


def settings_for(db_path: Path, api_key: str | None = API_KEY, port: int = 8000) -> Settings:
    return Settings(db=db_path, api_key=SecretStr(api_key) if api_key else None, port=port)


@pytest.fixture
def sample(con: duckdb.DuckDBPyConnection) -> Sample:
    return seed_sample(con)


@pytest.fixture
def client(con: duckdb.DuckDBPyConnection, db_path: Path, sample: Sample) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db_path), connection=con)) as test_client:
        yield test_client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "hint"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["full_name"] for item in response.json()["items"]]


# --- health, taxonomy, index ----------------------------------------------------------------


def test_healthz_reports_database_and_counts(client: TestClient, db_path: Path) -> None:
    body = client.get("/healthz").json()
    assert body == {
        "status": "ok",
        "database": str(db_path),
        "repositories": 8,
        "schema_version": LATEST_VERSION,
    }


def test_taxonomy_lists_every_category_with_its_layer(client: TestClient) -> None:
    body = client.get("/v1/taxonomy").json()
    assert body["version"] == TAXONOMY_VERSION
    assert body["layers"] == list(LAYERS)
    assert [c["name"] for c in body["categories"]] == list(CATEGORIES)
    infrastructure = next(c for c in body["categories"] if c["name"] == "infrastructure")
    assert (
        infrastructure["layer"] == "infrastructure" and "serving" in infrastructure["subcategories"]
    )


def test_index_lists_the_endpoints(client: TestClient) -> None:
    paths = {e["path"] for e in client.get("/v1").json()["endpoints"]}
    assert {"/v1/repos", "/v1/repos/{owner}/{name}", "/v1/counts/monthly", "/healthz"} <= paths


def test_openapi_schema_is_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/v1/repos/{owner}/{name}/label" in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_docs_load_their_scripts_from_the_server(client: TestClient) -> None:
    page = client.get("/docs").text
    scripts = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)""", page)
    assert scripts and not [url for url in scripts if "//" in url]
    assert all(client.get(url).status_code == 200 for url in scripts)


# --- /v1/repos --------------------------------------------------------------------------------


def test_repos_default_is_active_by_stars_descending(client: TestClient, sample: Sample) -> None:
    response = client.get("/v1/repos")
    body = response.json()
    assert body["total"] == len(sample.active) == 7
    assert (body["limit"], body["offset"]) == (50, 0)
    stars = [item["stars"] for item in body["items"]]
    assert stars == sorted(stars, reverse=True)
    assert set(names(response)) == sample.active


def test_repo_items_carry_their_label(client: TestClient) -> None:
    items = {i["full_name"]: i for i in client.get("/v1/repos").json()["items"]}
    ragkit = items["bolt/ragkit"]
    assert ragkit["id"] == 102
    assert ragkit["created_at"].startswith("2023-05-02")
    assert ragkit["label"] == {
        "layer": "application",
        "category": "app-development",
        "subcategory": None,
        "confidence": 0.9,
        "method": "model",
    }
    assert items["acme/chat-studio"]["topics"] == ["chat", "llm"]
    assert items["newco/fresh-tool"]["label"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=app-development", {"bolt/ragkit"}),
        ("category=app-development&status=all", {"bolt/ragkit", "gone/old-agent"}),
        ("status=vanished", {"gone/old-agent"}),
        ("layer=model", {"tensorlab/tiny-llm", "quantfast/q4"}),
        ("q=RETRIEVAL", {"bolt/ragkit"}),
        ("q=serveit", {"serveit/llm-serve"}),
        ("q=%25", set()),
        ("min_stars=12000", {"bolt/ragkit", "serveit/llm-serve", "webby/web-framework"}),
        ("language=go", {"webby/web-framework"}),
        ("layer=model&min_stars=1000", {"quantfast/q4"}),
    ],
)
def test_repo_filters(client: TestClient, query: str, expected: set[str]) -> None:
    response = client.get(f"/v1/repos?{query}")
    assert set(names(response)) == expected
    assert response.json()["total"] == len(expected)


@pytest.mark.parametrize(
    ("sort", "first", "last"),
    [
        ("name", "acme/chat-studio", "webby/web-framework"),
        ("-name", "webby/web-framework", "acme/chat-studio"),
        ("created", "webby/web-framework", "newco/fresh-tool"),
        ("-created", "newco/fresh-tool", "webby/web-framework"),
        ("stars", "tensorlab/tiny-llm", "webby/web-framework"),
    ],
)
def test_repo_sorting(client: TestClient, sort: str, first: str, last: str) -> None:
    found = names(client.get(f"/v1/repos?sort={sort}"))
    assert (found[0], found[-1]) == (first, last)


def test_repo_paging_keeps_the_total(client: TestClient) -> None:
    everything = names(client.get("/v1/repos?sort=name"))
    page = client.get("/v1/repos?sort=name&limit=2&offset=2").json()
    assert page["total"] == 7 and (page["limit"], page["offset"]) == (2, 2)
    assert [i["full_name"] for i in page["items"]] == everything[2:4]
    assert client.get("/v1/repos?offset=100").json() == {
        "total": 7, "limit": 50, "offset": 100, "items": []
    }  # fmt: skip


def test_repos_as_csv(client: TestClient) -> None:
    response = client.get("/v1/repos?format=csv&sort=name&limit=3")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-total-count"] == "7"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["full_name"] for r in rows] == ["acme/chat-studio", "bolt/ragkit", "newco/fresh-tool"]
    assert rows[0]["topics"] == "chat,llm"
    assert rows[0]["category"] == "applications" and rows[0]["layer"] == "application"
    assert rows[2]["category"] == "" and rows[2]["method"] == ""


@pytest.mark.parametrize(
    ("query", "parameter", "allowed"),
    [
        ("category=chatbots", "category", "app-development"),
        ("layer=frontend", "layer", "infrastructure"),
        ("sort=popularity", "sort", "'-stars'"),
        ("status=deleted", "status", "'vanished'"),
        ("format=xml", "format", "'csv'"),
    ],
)
def test_bad_values_give_422_naming_parameter_and_allowed(
    client: TestClient, query: str, parameter: str, allowed: str
) -> None:
    error = assert_error(client.get(f"/v1/repos?{query}"), 422, "invalid_parameter")
    assert f"'{parameter}'" in error["message"]
    assert allowed in error["message"] + error["hint"]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "min_stars=-5", "q="])
def test_out_of_range_numbers_give_422(client: TestClient, query: str) -> None:
    parameter = query.split("=")[0]
    error = assert_error(client.get(f"/v1/repos?{query}"), 422, "invalid_parameter")
    assert f"query parameter '{parameter}'" in error["message"]


# --- /v1/repos/{owner}/{name} -------------------------------------------------------------------


def test_repo_detail_has_label_history_and_observations(client: TestClient) -> None:
    body = client.get("/v1/repos/bolt/ragkit").json()
    assert (body["id"], body["full_name"], body["owner"], body["name"]) == (
        102, "bolt/ragkit", "bolt", "ragkit"
    )  # fmt: skip
    assert body["names"] == ["oldbolt/ragkit", "bolt/ragkit"]
    assert body["label"]["category"] == "app-development" and body["label"]["method"] == "model"
    assert [(h["method"], h["category"]) for h in body["label_history"]] == [
        ("rules", "infrastructure"),
        ("model", "app-development"),
    ]
    assert [(o["run_id"], o["stars"]) for o in body["observations"]] == [(2, 12000), (1, 9000)]
    assert body["as_of"] is None


def test_repo_found_by_former_name_and_any_case(client: TestClient) -> None:
    assert client.get("/v1/repos/oldbolt/ragkit").json()["full_name"] == "bolt/ragkit"
    assert client.get("/v1/repos/BOLT/RagKit").json()["id"] == 102


def test_repo_label_as_of_a_date(client: TestClient) -> None:
    before = client.get("/v1/repos/bolt/ragkit?as_of=2026-09-15").json()
    assert before["as_of"] == "2026-09-15"
    assert (before["label"]["method"], before["label"]["category"]) == ("rules", "infrastructure")
    # a label given during the day counts for that day
    on_the_day = client.get("/v1/repos/bolt/ragkit?as_of=2026-11-01").json()
    assert on_the_day["label"]["category"] == "app-development"
    assert client.get("/v1/repos/bolt/ragkit?as_of=2020-01-01").json()["label"] is None
    assert len(before["label_history"]) == 2


def test_repo_as_of_must_be_a_date(client: TestClient) -> None:
    error = assert_error(
        client.get("/v1/repos/bolt/ragkit?as_of=last-week"), 422, "invalid_parameter"
    )
    assert "'as_of'" in error["message"]


def test_unknown_repo_and_unknown_path_give_404_error_shape(client: TestClient) -> None:
    error = assert_error(client.get("/v1/repos/nobody/nothing"), 404, "not_found")
    assert "nobody/nothing" in error["message"]
    assert assert_error(client.get("/v2/whatever"), 404, "not_found")["hint"]
    assert_error(client.delete("/v1/repos"), 405, "method_not_allowed")


# --- PUT /v1/repos/{owner}/{name}/label -------------------------------------------------------


def put_label(
    client: TestClient, body: dict[str, object], key: str | None = API_KEY
) -> httpx.Response:
    headers = {"X-API-Key": key} if key is not None else {}
    return client.put("/v1/repos/bolt/ragkit/label", json=body, headers=headers)


def test_put_label_without_configured_key_is_503(
    con: duckdb.DuckDBPyConnection, db_path: Path, sample: Sample
) -> None:
    with TestClient(create_app(settings_for(db_path, api_key=None), connection=con)) as client:
        error = assert_error(put_label(client, {"category": "models"}), 503, "writes_disabled")
    assert "STACKATLAS_API_KEY" in error["hint"]


@pytest.mark.parametrize("key", [None, "", "wrong-key", API_KEY + "x"])
def test_put_label_with_missing_or_wrong_key_is_401(client: TestClient, key: str | None) -> None:
    assert_error(put_label(client, {"category": "models"}, key=key), 401, "unauthorized")
    assert client.get("/v1/repos/bolt/ragkit").json()["label"]["method"] == "model"


def test_put_label_with_right_key_wins_and_stays_in_history(
    client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    change = {"category": "applications", "subcategory": "coding", "note": "it is a product"}
    response = put_label(client, change)
    assert response.status_code == 200, response.text
    label = response.json()
    assert (label["method"], label["layer"], label["category"]) == (
        "human", "application", "applications"
    )  # fmt: skip
    assert (label["subcategory"], label["note"]) == ("coding", "it is a product")

    # a later machine label does not override the human one
    add_label(con, 102, "infrastructure", method="llm", created_at=datetime(2099, 1, 1))
    body = client.get("/v1/repos/bolt/ragkit").json()
    assert (body["label"]["method"], body["label"]["category"]) == ("human", "applications")
    assert [h["method"] for h in body["label_history"]] == ["rules", "model", "human", "llm"]
    listed = client.get("/v1/repos?category=applications").json()["items"]
    assert "bolt/ragkit" in [item["full_name"] for item in listed]


def test_put_label_by_former_name_labels_the_repository(client: TestClient) -> None:
    response = client.put(
        "/v1/repos/oldbolt/ragkit/label", json={"category": "lists"}, headers={"X-API-Key": API_KEY}
    )
    assert response.status_code == 200, response.text
    assert client.get("/v1/repos/bolt/ragkit").json()["label"]["category"] == "lists"


@pytest.mark.parametrize(
    "body", [{"category": "chatbots"}, {}, {"category": "models", "colour": "red"}]
)
def test_put_label_with_bad_body_is_422(client: TestClient, body: dict[str, object]) -> None:
    assert_error(put_label(client, body), 422, "invalid_parameter")
    assert client.get("/v1/repos/bolt/ragkit").json()["label"]["method"] == "model"


def test_put_label_bad_category_names_the_allowed(client: TestClient) -> None:
    error = assert_error(put_label(client, {"category": "chatbots"}), 422, "invalid_parameter")
    assert "model-development" in error["hint"]


def test_put_label_on_unknown_repo_is_404(client: TestClient) -> None:
    response = client.put(
        "/v1/repos/nobody/nothing/label",
        json={"category": "models"},
        headers={"X-API-Key": API_KEY},
    )
    assert_error(response, 404, "not_found")


# --- counts ----------------------------------------------------------------------------------


def test_monthly_counts_fill_months_and_accumulate(client: TestClient) -> None:
    items = client.get("/v1/counts/monthly?category=app-development").json()["items"]
    by_month = {i["month"]: i for i in items}
    # gone/old-agent (2023-03) vanished, so only bolt/ragkit (2023-05) counts
    assert by_month["2023-04"]["cumulative_repos"] == 0
    assert by_month["2023-05"] == {
        "month": "2023-05", "layer": "application", "category": "app-development",
        "subcategory": None, "new_repos": 1, "cumulative_repos": 1,
    }  # fmt: skip
    assert items[-1]["cumulative_repos"] == 1
    months = [i["month"] for i in items]
    assert months == sorted(months) and len(months) == len(set(months))


def test_monthly_counts_exclude_other_unless_asked(client: TestClient) -> None:
    default = client.get("/v1/counts/monthly").json()["items"]
    assert {i["category"] for i in default} == {
        "applications", "app-development", "models", "model-development", "infrastructure"
    }  # fmt: skip
    with_other = client.get("/v1/counts/monthly?include_other=true").json()["items"]
    assert "other" in {i["category"] for i in with_other}


def test_monthly_counts_range_and_layer(client: TestClient) -> None:
    items = client.get("/v1/counts/monthly?layer=model&start=2022-10&end=2023-05").json()["items"]
    assert {i["month"] for i in items} == {"2022-10", "2022-11", "2022-12"} | {
        f"2023-0{m}" for m in range(1, 6)
    }
    assert {i["layer"] for i in items} == {"model"}
    first = {i["category"]: i["cumulative_repos"] for i in items if i["month"] == "2022-10"}
    last = {i["category"]: i["cumulative_repos"] for i in items if i["month"] == "2023-05"}
    assert first == {"models": 0, "model-development": 0}
    assert last == {"models": 1, "model-development": 1}


def test_monthly_counts_as_csv(client: TestClient) -> None:
    response = client.get("/v1/counts/monthly?format=csv&category=models")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "month", "layer", "category", "subcategory", "new_repos", "cumulative_repos"
    ]  # fmt: skip
    assert rows[-1]["cumulative_repos"] == "1"
    assert all(r["category"] == "models" for r in rows)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("start=2023-13", "start"),
        ("end=2023", "end"),
        ("start=2023-05&end=2023-01", "end"),
        ("category=everything", "category"),
        ("include_other=perhaps", "include_other"),
    ],
)
def test_monthly_counts_bad_params_give_422(client: TestClient, query: str, parameter: str) -> None:
    error = assert_error(client.get(f"/v1/counts/monthly?{query}"), 422, "invalid_parameter")
    assert f"'{parameter}'" in error["message"]


def test_summary_counts_active_repositories(client: TestClient) -> None:
    body = client.get("/v1/summary").json()
    assert (body["total"], body["ai_total"]) == (7, 5)
    layers = {layer["layer"]: layer for layer in body["layers"]}
    assert layers["model"]["repos"] == 2
    assert {c["category"] for c in layers["model"]["categories"]} == {"models", "model-development"}
    assert layers["unlabelled"]["repos"] == 1
    assert [layer["layer"] for layer in body["layers"]][:3] == [
        "application",
        "model",
        "infrastructure",
    ]


# --- the app's own connection and the server ---------------------------------------------------


def test_app_opens_and_releases_the_database(db_path: Path) -> None:
    with TestClient(create_app(settings_for(db_path))) as client:
        assert client.get("/healthz").json()["repositories"] == 0
    # the server released the file: another writer can open it now
    connect(db_path).close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(settings: Settings, con: duckdb.DuckDBPyConnection) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 in a thread; yields its base URL."""
    server = server_for(settings, connection=con)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the server did not start"
        yield f"http://{settings.host}:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.slow
def test_server_serves_on_the_configured_port(
    con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    settings = settings_for(db_path, port=free_port())
    with running_server(settings, con) as base_url:
        assert httpx.get(f"{base_url}/healthz", timeout=5).json()["status"] == "ok"


@pytest.mark.slow
def test_concurrent_reads_and_writes_each_get_their_cursor(
    con: duckdb.DuckDBPyConnection, db_path: Path, sample: Sample
) -> None:
    settings = settings_for(db_path, port=free_port())
    reads = ["/v1/repos", "/v1/counts/monthly", "/v1/summary", "/v1/repos/bolt/ragkit"]

    def client_session(worker: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=base_url, timeout=10) as http:
            for step in range(10):
                if step % 5 == 0:
                    response = http.put(
                        "/v1/repos/bolt/ragkit/label",
                        json={"category": "models", "note": f"{worker}-{step}"},
                        headers={"X-API-Key": API_KEY},
                    )
                else:
                    response = http.get(reads[step % len(reads)])
                statuses.append(response.status_code)
        return statuses

    with running_server(settings, con) as base_url, ThreadPoolExecutor(6) as pool:
        statuses = [status for batch in pool.map(client_session, range(6)) for status in batch]
        history = httpx.get(f"{base_url}/v1/repos/bolt/ragkit", timeout=5).json()["label_history"]
    assert statuses == [200] * 60
    assert len([label for label in history if label["method"] == "human"]) == 12


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        ("text/csv", "", "text/csv"),
        ("application/json", "", "application/json"),
        ("text/csv;q=0.5, application/json", "", "application/json"),
        ("text/csv", "&format=json", "application/json"),
        ("*/*", "", "application/json"),
    ],
)
def test_accept_header_chooses_csv_or_json(
    client: TestClient, accept: str, query: str, expected: str
) -> None:
    for path in ("/v1/repos?limit=2", "/v1/counts/monthly?category=models"):
        response = client.get(path + query, headers={"Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(expected), (path, accept)
