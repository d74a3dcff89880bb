"""Hostile inputs against every operation of the API: no 5xx, always the one error shape.

Two layers: schemathesis generates valid and invalid requests from the app's own OpenAPI schema
(in process, through ASGI, a bounded number of examples per operation), and a hand-written list
of nasty values (SQL fragments, path traversal, huge, unicode, NUL bytes, bytes that are not
UTF-8, lone surrogates) goes into every query parameter, path parameter and header.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr

from api.app import create_app
from stackatlas.scheduler import JobRunner, Service
from stackatlas.settings import Settings
from tests.factories import seed_sample
from tests.test_scheduler import Steps
from warehouse.db import connect

API_KEY = "hostile-test-key-0042"
EXAMPLES = 40

HOSTILE: list[str] = [
    "' OR 1=1 --",
    "'; DROP TABLE repositories; --",
    '" UNION SELECT * FROM duckdb_settings() --',
    "%' AND 1=0 UNION SELECT path FROM duckdb_databases() --",
    "../../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "\x00",
    "a\x00b",
    "\u202e\u0000\ufeff",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃ 漢字 🤖",
    "\ud800",  # a lone surrogate
    "x" * 30_000,
    "-1",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "",
    " ",
    "$1",
    "{owner}",
    "\r\nX-Injected: yes",
]
RAW = ["%ED%A0%80", "%FF%FE", "%C0%AF", "%00", "%", "%%", "%zz", "&&&", "=="]
"""Already percent-encoded: bytes that are not UTF-8, overlong forms, broken escapes."""


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    path: Path = tmp_path_factory.mktemp("hostile") / "w.duckdb"
    con = connect(path)
    seed_sample(con)
    settings = Settings(  # type: ignore[call-arg]
        db=path, api_key=SecretStr(API_KEY), ready_max_age_hours=0
    )
    # a scheduler over fake job steps, so that POST /v1/runs answers as on a serving server
    runner = JobRunner(con, settings, steps=Steps().mapping(), writer=threading.Lock())
    yield create_app(settings, connection=con, jobs=Service(runner, settings))
    con.close()


@pytest.fixture(scope="module")
def client(hostile_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(hostile_app, raise_server_exceptions=False) as test_client:
        yield test_client


def assert_answered(response: httpx.Response | Any, what: str) -> None:
    """Below 500, and an error (4xx) has the one error shape."""
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text[:300]}"
    if status >= 400 and status != 405:
        body = response.json()
        assert set(body) == {"error"}, f"{what}: {body}"
        assert set(body["error"]) == {"code", "message", "hint"}, f"{what}: {body}"


# --- schemathesis ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_schema(hostile_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", hostile_app)


def exercise(operation: Any, mode: schemathesis.GenerationMode) -> int:
    """Send up to EXAMPLES generated requests of one operation; returns how many were sent."""
    sent = 0

    @given(operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def one(case: Any) -> None:
        nonlocal sent
        case.headers = {"X-API-Key": API_KEY, **(case.headers or {})}
        response = case.call()
        sent += 1
        assert_answered(response, f"{case.method} {case.formatted_path} {case.query}")

    # Unsatisfiable: nothing invalid to send (an operation without parameters).
    with contextlib.suppress(Unsatisfiable):
        one()
    return sent


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_generated_requests_never_get_a_5xx(api_schema: Any, mode: Any) -> None:
    sent = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        sent[f"{operation.method.upper()} {operation.path}"] = exercise(operation, mode)
    assert sum(sent.values()) >= EXAMPLES * 3, sent


# --- hand-written hostile values -------------------------------------------------------------


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            found.append((method.upper(), path, operation))
    return found


def pct(value: str) -> str:
    """``value`` percent-encoded as its UTF-8 bytes (a lone surrogate as its invalid bytes)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def fill_path(path: str, value: str | None = None) -> str:
    """The path with its parameters: a real repository, or ``value`` percent-encoded."""
    owner, name = ("acme", "chat-studio") if value is None else (value, value)
    return path.replace("{owner}", owner).replace("{name}", name)


def send(client: TestClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    headers = {"X-API-Key": API_KEY, **kwargs.pop("headers", {})}
    if method == "PUT":
        kwargs.setdefault("json", {"category": "tutorials"})
    return client.request(method, url, headers=headers, **kwargs)


@pytest.mark.slow
def test_hostile_values_in_every_query_parameter(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    checked = 0
    for method, path, operation in operations(app):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        for name in names:
            for value in [*(pct(v) for v in HOSTILE), *RAW]:
                response = send(client, method, f"{fill_path(path)}?{name}={value}")
                assert_answered(response, f"{method} {path} ?{name}={value[:40]}")
                checked += 1
    assert checked > 100


def test_hostile_values_in_every_path_parameter(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    templated = [(m, p) for m, p, _ in operations(app) if "{" in p]
    assert templated
    values = [pct(v) or "%20" for v in [*HOSTILE, "..", ".", "a/b/../../.."]]
    for method, path in templated:
        for value in [*values, *RAW, "..%2F..%2F", "../..", "a/../../b"]:
            url = fill_path(path, value)
            assert_answered(send(client, method, url), f"{method} {path} with {value[:40]}")


HEADERS = ["X-API-Key", "Accept", "If-None-Match", "Accept-Encoding", "Content-Type", "Origin"]


HEADER_VALUES = [b"' OR 1=1 --", b"../../etc/passwd", b"x" * 20_000, "é ÿ".encode(),
                 b"\xff\xfe", b"a\x00b", b"*/*;q=abc", b"", b'W/"x", *, "' + b"a" * 500]


@pytest.mark.slow
def test_hostile_values_in_headers(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    for method, path, _ in operations(app):
        for header in HEADERS:
            for value in HEADER_VALUES:
                response = send(client, method, fill_path(path), headers={header: value})
                assert_answered(response, f"{method} {path} {header}: {value[:30]!r}")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b'{"category": "\\u0000"}',
        b'{"category": "tutorials", "note": "\\ud800"}',
        b'{"category": "tutorials", "note": "' + b"x" * 1_000_000 + b'"}',
        b'{"category": "../../etc", "subcategory": "\' OR 1=1 --"}',
        b'{"category": 1e999}',
        b"\xff\xfe\x00",
        b'{"category": ' * 2000,
    ],
)
def test_hostile_label_bodies(client: TestClient, body: bytes) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    puts = [p for m, p, _ in operations(app) if m == "PUT"]
    assert puts
    for path in puts:
        response = client.put(
            fill_path(path), content=body,
            headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
        )
        assert_answered(response, f"PUT {path} {body[:40]!r}")


def test_sql_fragments_change_nothing(client: TestClient) -> None:
    con: duckdb.DuckDBPyConnection = client.app.state.connection  # type: ignore[attr-defined]

    def state() -> list[tuple[Any, ...]]:
        return con.execute(
            "SELECT (SELECT count(*) FROM repositories), (SELECT count(*) FROM duckdb_tables()),"
            " (SELECT sum(stars) FROM repositories)"
        ).fetchall()

    before = state()
    for value in HOSTILE[:4]:
        for name in ("q", "language", "layer", "category", "sort", "status"):
            assert_answered(client.get(f"/v1/repos?{name}={pct(value)}"), f"{name}={value}")
        assert_answered(client.get(f"/v1/repos/{pct(value)}/x"), value)
    assert state() == before
    assert client.get("/v1/repos/acme/chat-studio").status_code == 200
