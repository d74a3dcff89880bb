"""The OpenAPI schema tells the truth: real answers of every operation validate against it.

Every GET operation of the schema is called (path parameters from ``EXAMPLES``, else a value
that finds nothing), as JSON and, where documented, as CSV; deliberate failures cover the error
statuses. Each answer's status must be documented for its operation, and its body must validate
against the documented schema of its media type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import jsonschema
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from stackatlas.settings import Settings
from tests.factories import seed_sample

API_KEY = "test-key-123"
EXAMPLES = {"owner": "bolt", "name": "ragkit"}

# Failures on purpose: (method, url, json body, headers, expected status).
FAILURES: list[tuple[str, str, Any, dict[str, str], int]] = [
    ("GET", "/v1/repos?category=chatbots", None, {}, 422),
    ("GET", "/v1/repos?limit=100000000000000000000000", None, {}, 422),
    ("GET", "/v1/repos?cursor=garbage", None, {}, 422),
    ("GET", "/v1/repos/nobody/nothing", None, {}, 404),
    ("GET", "/v1/repos/bolt/ragkit?as_of=soon", None, {}, 422),
    ("GET", "/v1/counts/monthly?category=nope", None, {}, 422),
    ("GET", "/v1/repos?q=" + "x" * 5000, None, {}, 414),
    ("PUT", "/v1/repos/bolt/ragkit/label", {"category": "models"}, {}, 401),
    ("PUT", "/v1/repos/bolt/ragkit/label", {"category": "x"}, {"X-API-Key": API_KEY}, 422),
    ("PUT", "/v1/repos/bolt/ragkit/label", {"category": "models", "subcategory": "agents"},
     {"X-API-Key": API_KEY}, 422),
    ("PUT", "/v1/repos/no/body/label", {"category": "models"}, {"X-API-Key": API_KEY}, 404),
    ("PUT", "/v1/repos/bolt/ragkit/label", {"category": "models", "subcategory": "language"},
     {"X-API-Key": API_KEY}, 200),
]  # fmt: skip


@pytest.fixture
def client(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    seed_sample(con)
    settings = Settings(db=db_path, api_key=SecretStr(API_KEY))
    with TestClient(create_app(settings, connection=con)) as test_client:
        yield test_client


@pytest.fixture
def schema(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def zoned_date_time(value: object) -> bool:
    """RFC 3339 date-times carry a zone: a naive timestamp does not conform."""
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("date", raises=ValueError)
def plain_date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


def operation_for(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the schema")


def check_conforms(schema: dict[str, Any], method: str, response: httpx.Response) -> None:
    """The answer's status is documented for its operation and its body fits the schema."""
    operation = operation_for(schema, method, response.request.url.path)
    status = str(response.status_code)
    assert status in operation["responses"], (method, response.request.url, status)
    documented = operation["responses"][status].get("content")
    if status == "304":
        assert documented is None and response.content == b""
        return
    media = response.headers["content-type"].split(";")[0].strip()
    assert documented and media in documented, (response.request.url, media, documented)
    body_schema = documented[media]["schema"]
    if media == "application/json":
        document = {**body_schema, "components": schema["components"]}
        validator = jsonschema.Draft202012Validator(document, format_checker=FORMATS)
        errors = [e.message for e in validator.iter_errors(response.json())]
        assert not errors, (response.request.url, errors[:3])
    else:
        assert body_schema.get("type") == "string" and response.text


def get_operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, ops["get"]) for path, ops in schema["paths"].items() if "get" in ops]


def fill(template: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: EXAMPLES.get(m.group(1), "zz-unknown"), template)


def test_every_get_operation_answers_as_documented(
    client: TestClient, schema: dict[str, Any]
) -> None:
    assert get_operations(schema)
    for template, operation in get_operations(schema):
        url = fill(template)
        response = client.get(url)
        check_conforms(schema, "GET", response)
        if response.status_code == 200:
            etag = response.headers["etag"]
            check_conforms(schema, "GET", client.get(url, headers={"If-None-Match": etag}))
        csv_documented = "text/csv" in operation["responses"]["200"].get("content", {})
        if csv_documented and response.status_code == 200:
            # (a CSV may need more parameters than JSON: then a documented 422)
            for csv_answer in (
                client.get(url, params={"format": "csv"}),
                client.get(url, headers={"Accept": "text/csv"}),
            ):
                check_conforms(schema, "GET", csv_answer)
                if csv_answer.status_code == 200:
                    assert csv_answer.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize(
    "url",
    [
        "/v1/repos?facet=category&facet=language&fields=full_name,label,created_at&limit=2",
        "/v1/repos?status=all&sort=-pushed&limit=3",
        "/v1/repos/bolt/ragkit?as_of=2026-09-15",
        "/v1/repos/newco/fresh-tool",
        "/v1/counts/monthly?include_other=true",
        "/v1/repos?format=csv&fields=full_name,label",
    ],
)
def test_rich_answers_conform(client: TestClient, schema: dict[str, Any], url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    check_conforms(schema, "GET", response)
    link = response.headers.get("link")
    if link:
        check_conforms(schema, "GET", client.get(link.split(";")[0].strip("<>")))


@pytest.mark.parametrize(("method", "url", "body", "headers", "status"), FAILURES)
def test_failures_answer_as_documented(
    client: TestClient,
    schema: dict[str, Any],
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str],
    status: int,
) -> None:
    response = client.request(method, url, json=body, headers=headers)
    assert response.status_code == status, response.text
    check_conforms(schema, method, response)


def test_writes_disabled_is_a_documented_503(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    seed_sample(con)
    with TestClient(create_app(Settings(db=db_path), connection=con)) as client:
        schema = client.get("/openapi.json").json()
        response = client.put("/v1/repos/bolt/ragkit/label", json={"category": "models"})
    assert response.status_code == 503
    check_conforms(schema, "PUT", response)


def test_no_fastapi_detail_schema_is_left(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for operations in schema["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), status


def test_parameters_document_what_the_server_accepts(schema: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in operation_for(schema, "GET", "/v1/repos")["parameters"]}
    category = parameters["category"]["schema"]
    assert category["items"]["pattern"].startswith("^(applications|")
    assert re.match(category["items"]["pattern"], "models,app-development")
    assert not re.match(category["items"]["pattern"], "models,chatbots")
    assert parameters["created_from"]["schema"]["anyOf"][0]["format"] == "date"
    assert parameters["limit"]["schema"]["maximum"] == 500
    assert parameters["offset"]["schema"]["maximum"] == 100_000
    assert parameters["cursor"]["schema"]["anyOf"][0]["maxLength"] == 512
    label = schema["components"]["schemas"]["LabelChange"]["properties"]
    assert "models" in label["category"]["enum"] and label["note"]["anyOf"][0]["maxLength"] == 2000
