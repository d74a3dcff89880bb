"""The HTTP layer: strong ETags, 304, Cache-Control, HEAD, gzip, CORS, URL bounds; and a second
`serve` on a database held by another process failing in one line."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.http import IMMUTABLE_CACHE_CONTROL, MAX_URL_LENGTH, cache_immutable, etag_matches
from stackatlas.settings import Settings
from tests.conftest import PROJECT_ROOT
from tests.factories import add_label, seed_sample

API_KEY = "test-key-123"
GETS = [
    "/healthz", "/v1", "/v1/taxonomy", "/v1/summary", "/v1/repos?limit=3", "/v1/repos?format=csv",
    "/v1/repos/bolt/ragkit", "/v1/counts/monthly", "/openapi.json",
]  # fmt: skip


def app_client(con: duckdb.DuckDBPyConnection, db_path: Path, **settings: object) -> TestClient:
    values = {"db": db_path, "api_key": SecretStr(API_KEY), **settings}
    return TestClient(create_app(Settings(**values), connection=con))  # type: ignore[arg-type]


@pytest.fixture
def client(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    seed_sample(con)
    with app_client(con, db_path) as test_client:
        yield test_client


@pytest.mark.parametrize("path", GETS)
def test_every_get_has_a_strong_etag_and_answers_304(client: TestClient, path: str) -> None:
    first = client.get(path, headers={"Accept-Encoding": "identity"})
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "public, max-age=60"
    again = client.get(path, headers={"If-None-Match": etag, "Accept-Encoding": "identity"})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"]
    assert "content-type" not in again.headers
    other = client.get(path, headers={"If-None-Match": '"stale"', "Accept-Encoding": "identity"})
    assert other.status_code == 200 and other.content == first.content


def test_etag_changes_with_the_data(client: TestClient, con: duckdb.DuckDBPyConnection) -> None:
    before = client.get("/v1/repos?category=models").headers["etag"]
    assert client.get("/v1/repos?category=models").headers["etag"] == before
    add_label(con, 102, "models", method="human")
    after = client.get("/v1/repos?category=models", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["etag"] != before


@pytest.mark.parametrize(
    ("header", "matches"),
    [('"a"', True), ('W/"a"', True), ('"b", "a"', True), ("*", True), ('"b"', False), ("", False)],
)
def test_if_none_match_uses_the_weak_comparison(header: str, matches: bool) -> None:
    assert etag_matches(header, '"a"') is matches


@pytest.mark.parametrize("path", GETS)
def test_head_mirrors_get_without_a_body(client: TestClient, path: str) -> None:
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "content-type", "content-length", "cache-control"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_head_of_a_missing_repository_is_404(client: TestClient) -> None:
    response = client.head("/v1/repos/nobody/nothing")
    assert response.status_code == 404 and response.content == b""


def test_errors_and_writes_carry_no_etag(client: TestClient) -> None:
    assert "etag" not in client.get("/v1/repos/nobody/nothing").headers
    response = client.put(
        "/v1/repos/bolt/ragkit/label", json={"category": "models"}, headers={"X-API-Key": API_KEY}
    )
    assert response.status_code == 200 and "etag" not in response.headers


def test_gzip_when_asked_with_its_own_strong_etag(client: TestClient) -> None:
    plain = client.get("/v1/repos", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/v1/repos", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert zipped.json() == plain.json()  # httpx decompresses
    assert zipped.headers["etag"] != plain.headers["etag"]
    # zlib's gzip is deterministic: the same answer keeps its ETag, so 304 works compressed too
    again = client.get(
        "/v1/repos", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
    )
    assert again.status_code == 304


def test_gzip_body_is_smaller_and_valid(client: TestClient) -> None:
    with client.stream("GET", "/v1/openapi.json".replace("/v1", ""), headers={
        "Accept-Encoding": "gzip"
    }) as response:  # fmt: skip
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert len(raw) < len(gzip.decompress(raw)) / 3


def test_no_cors_headers_unless_configured(client: TestClient) -> None:
    response = client.get("/v1/repos", headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_the_configured_origins(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    seed_sample(con)
    origins = "https://example.org, http://localhost:3000"
    with app_client(con, db_path, cors_origins=origins) as client:
        allowed = client.get("/v1/repos", headers={"Origin": "http://localhost:3000"})
        assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "ETag" in allowed.headers["access-control-expose-headers"]
        other = client.get("/v1/repos", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = client.options(
            "/v1/repos/bolt/ragkit/label",
            headers={
                "Origin": "https://example.org",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "X-API-Key, Content-Type",
            },
        )
        assert preflight.status_code == 200
        assert "PUT" in preflight.headers["access-control-allow-methods"]


def test_cache_control_max_age_is_a_setting(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    with app_client(con, db_path, cache_max_age=5) as client:
        assert client.get("/v1/taxonomy").headers["cache-control"] == "public, max-age=5"


def test_a_route_can_pin_its_answer_as_immutable() -> None:
    from api.http import install_http_behaviour

    app = FastAPI()
    install_http_behaviour(app, Settings())

    @app.get("/pinned")
    def pinned(response: Response) -> dict[str, str]:
        cache_immutable(response)
        return {"figure": "42"}

    with TestClient(app) as client:
        response = client.get("/pinned")
    assert response.headers["cache-control"] == IMMUTABLE_CACHE_CONTROL
    assert response.headers["etag"]


def test_an_over_long_url_is_414_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/repos?q=x&language=" + "a," * (MAX_URL_LENGTH // 2))
    assert response.status_code == 414
    error = response.json()["error"]
    assert error["code"] == "uri_too_long" and "comma" in error["hint"]
    assert client.get("/v1/repos?language=" + "a," * 40).status_code == 200


def test_write_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.deps

    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(api.deps.secrets, "compare_digest", spy)
    settings = Settings(api_key=SecretStr("k"))
    with pytest.raises(Exception, match="wrong API key"):
        api.deps.require_api_key(settings, "nope")
    assert calls == [(b"nope", b"k")]


def test_second_serve_on_a_held_database_fails_in_one_line(
    con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STACKATLAS_")}
    result = subprocess.run(
        [sys.executable, "-m", "stackatlas", "serve", "--db", str(db_path), "--port", "0"],
        capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, env=environment,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "in use by process" in lines[0] and "Traceback" not in result.stderr


def test_release_pinned_answers_are_immutable_with_stable_etags(
    con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    from tests.analytics_fixture import seed_analytics
    from tests.test_api_figures import later_crawl, publish

    seed_analytics(con)
    with app_client(con, db_path) as client:
        release = publish(con)
        pinned = [
            f"/v1/counts/monthly?release={release.id}",
            f"/v1/counts/monthly?release={release.id}&format=csv",
            f"/v1/trends?release={release.id}",
            f"/v1/releases/{release.id}",
        ]
        before = {path: client.get(path) for path in pinned}
        download = client.get(f"/v1/releases/{release.id}/download")
        assert download.headers["cache-control"] == IMMUTABLE_CACHE_CONTROL
        assert client.get("/v1/counts/monthly").headers["cache-control"] == "public, max-age=60"
        later_crawl(con)
        publish(con)
        for path, old in before.items():
            assert old.headers["cache-control"] == IMMUTABLE_CACHE_CONTROL, path
            again = client.get(path, headers={"If-None-Match": old.headers["etag"]})
            assert again.status_code == 304, path


@pytest.mark.slow
def test_concurrent_reads_overlap_in_the_server(
    con: duckdb.DuckDBPyConnection, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four reads meet inside the database query at once: none waits for another to finish."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    import api.routes.repos
    from tests.test_api import free_port, running_server

    seed_sample(con)
    meeting = threading.Barrier(4, timeout=20)
    real_search = api.routes.repos.search_repositories

    def search_after_meeting(*args: object, **kwargs: object) -> object:
        meeting.wait()  # breaks (and the request fails) unless 4 requests are inside at once
        return real_search(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api.routes.repos, "search_repositories", search_after_meeting)
    settings = Settings(db=db_path, port=free_port())
    with running_server(settings, con) as base_url, ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(lambda _: httpx.get(f"{base_url}/v1/repos", timeout=30).status_code, range(4))
        )
    assert statuses == [200] * 4
