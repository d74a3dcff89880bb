"""GET/POST /v1/runs: the run history as JSON or CSV, and a hand trigger behind the API key."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from stackatlas.scheduler import JobRunner, Service
from stackatlas.settings import Settings
from tests.test_scheduler import Steps

KEY = "runs-key-7c1d"


@pytest.fixture
def steps() -> Steps:
    return Steps()


def make_settings(tmp_path: Path, key: str | None = KEY) -> Settings:
    return Settings(data_dir=tmp_path, api_key=SecretStr(key) if key else None)


@pytest.fixture
def client(
    con: duckdb.DuckDBPyConnection, steps: Steps, tmp_path: Path
) -> Iterator[TestClient]:
    settings = make_settings(tmp_path)
    runner = JobRunner(con, settings, steps=steps.mapping(), writer=threading.Lock())
    app = create_app(settings, connection=con, jobs=Service(runner, settings))
    with TestClient(app) as test_client:
        yield test_client


def wait_idle(client: TestClient) -> None:
    client.app.state.jobs.runner.wait_idle(5)  # type: ignore[attr-defined]


def test_post_queues_a_run_and_get_shows_it_with_its_follow_ups(client: TestClient) -> None:
    answer = client.post("/v1/runs", json={"job": "readme"}, headers={"X-API-Key": KEY})
    assert answer.status_code == 202
    run = answer.json()
    assert run["job"] == "readme" and run["status"] == "queued" and run["trigger"] == "manual"
    wait_idle(client)
    page = client.get("/v1/runs").json()
    assert [(r["job"], r["status"]) for r in page["runs"]] == [
        ("release", "succeeded"), ("classify", "succeeded"), ("readme", "succeeded")]
    assert page["active"] == {}
    assert set(page["next_runs"]) == {"discovery", "stars", "readme"}
    follow = client.get("/v1/runs", params={"parent": run["id"]}).json()["runs"]
    assert {r["job"] for r in follow} == {"classify", "release"}
    one = client.get(f"/v1/runs/{run['id']}").json()
    assert one["counts"] == {"done": "readme"} and one["finished_at"]


def test_post_while_the_job_runs_is_409(client: TestClient, steps: Steps) -> None:
    steps.gates["discovery"] = threading.Event()
    first = client.post("/v1/runs", json={"job": "discovery"}, headers={"X-API-Key": KEY})
    assert steps.entered["discovery"].wait(5)
    second = client.post("/v1/runs", json={"job": "discovery"}, headers={"X-API-Key": KEY})
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "conflict" and str(first.json()["id"]) in error["message"]
    assert client.get("/v1/runs").json()["active"] == {"discovery": first.json()["id"]}
    steps.gates["discovery"].set()
    wait_idle(client)


def test_post_needs_the_key_and_a_known_job(client: TestClient) -> None:
    assert client.post("/v1/runs", json={"job": "stars"}).status_code == 401
    wrong = client.post("/v1/runs", json={"job": "stars"}, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    bad = client.post("/v1/runs", json={"job": "crawl"}, headers={"X-API-Key": KEY})
    assert bad.status_code == 422 and "error" in bad.json()
    assert client.get("/v1/runs").json()["runs"] == []


def test_runs_as_csv(client: TestClient) -> None:
    client.post("/v1/runs", json={"job": "release"}, headers={"X-API-Key": KEY})
    wait_idle(client)
    answer = client.get("/v1/runs", headers={"Accept": "text/csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["job"], r["status"], r["counts"]) for r in rows] == [
        ("release", "succeeded", '{"done": "release"}')]


def test_unknown_run_is_404_and_bad_filters_422(client: TestClient) -> None:
    assert client.get("/v1/runs/999").json()["error"]["code"] == "not_found"
    assert client.get("/v1/runs", params={"status": "lost"}).status_code == 422
    assert client.get("/v1/runs", params={"limit": 0}).status_code == 422


def test_without_the_scheduler_post_is_503(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with TestClient(create_app(make_settings(tmp_path), connection=con)) as client:
        answer = client.post("/v1/runs", json={"job": "stars"}, headers={"X-API-Key": KEY})
        assert answer.status_code == 503
        assert "scheduler is off" in answer.json()["error"]["message"]
        assert client.get("/v1/runs").json() == {"runs": [], "active": {}, "next_runs": {}}
