"""Structured logs, the secret redactor, /healthz, /readyz and the Prometheus /metrics."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from stackatlas import metrics
from stackatlas.logs import REDACTED, configure_logging
from stackatlas.settings import Settings
from standins.github import ReplayServer
from tests.conftest import PROJECT_ROOT
from tests.factories import seed_sample
from tests.test_crawl import FAST_LIMITS, crawl, population
from warehouse import crawls

SECRET = "ghp_observability_secret_31337"

# --- logs -------------------------------------------------------------------------------------


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_are_one_object_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", log_format="json")
    log = logging.getLogger("stackatlas.test")
    log.info("crawled %d repositories", 42)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    first, second = json_lines(capsys.readouterr().err)
    assert first["event"] == "crawled 42 repositories"
    assert first["level"] == "info" and first["logger"] == "stackatlas.test"
    assert datetime.fromisoformat(str(first["timestamp"]).replace("Z", "+00:00"))
    assert second["level"] == "error"
    assert "ValueError: boom" in str(second["exception"])


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_are_blanked_from_messages_and_tracebacks(
    capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    configure_logging("DEBUG", log_format=log_format, secrets=[SECRET])
    log = logging.getLogger("stackatlas.test")
    log.warning("header was Bearer %s", SECRET)
    try:
        raise RuntimeError(f"Illegal header value b'Bearer {SECRET}\\n'")
    except RuntimeError:
        log.exception("request failed")
    log.debug("repr form %r", f"{SECRET}\n")
    err = capsys.readouterr().err
    assert SECRET not in err
    assert err.count(REDACTED) >= 3


def test_cli_log_json_flag(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stackatlas", "--log-json", "db", "migrate", "--db",
         str(tmp_path / "x.duckdb")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    events = [line["event"] for line in json_lines(done.stderr)]
    assert "applied migration 1: core tables" in events


# --- /healthz and /readyz -------------------------------------------------------------------


class NoDatabase:
    """A connection that fails the test if anything touches it."""

    def cursor(self) -> None:
        raise AssertionError("/healthz touched the database")


def test_healthz_never_touches_the_database() -> None:
    app = create_app(Settings(), connection=NoDatabase())  # type: ignore[arg-type]
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def add_run(con: duckdb.DuckDBPyConnection, finished_hours_ago: float, status: str) -> None:
    finished = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=finished_hours_ago)
    con.execute(
        "INSERT INTO crawl_runs (started_at, finished_at, status, mode, api_url)"
        " VALUES (?, ?, ?, 'queries', 'x')", [finished, finished, status],
    )


@pytest.fixture
def ready_client(con: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    seed_sample(con)
    settings = Settings(db=db_path, ready_max_age_hours=24)  # type: ignore[call-arg]
    with TestClient(create_app(settings, connection=con)) as client:
        yield client


def assert_not_ready(response: object, words: str) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "not_ready" and words in error["message"] and error["hint"]


def test_readyz_without_any_successful_run_is_503(
    ready_client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    add_run(con, 1, crawls.FAILED)
    add_run(con, 1, crawls.PARTIAL)
    assert_not_ready(ready_client.get("/readyz"), "no crawl run has succeeded")


def test_readyz_with_a_recent_run_is_ready(
    ready_client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    add_run(con, 50, crawls.SUCCEEDED)
    add_run(con, 2, crawls.SUCCEEDED)
    body = ready_client.get("/readyz").json()
    assert body["status"] == "ready" and body["repositories"] == 8
    assert 2 * 3600 - 60 < body["last_success_age_seconds"] < 2 * 3600 + 60


def test_readyz_with_a_stale_run_is_503(
    ready_client: TestClient, con: duckdb.DuckDBPyConnection
) -> None:
    add_run(con, 30, crawls.SUCCEEDED)
    add_run(con, 1, crawls.FAILED)
    assert_not_ready(ready_client.get("/readyz"), "30.0 h ago, more than the 24 h allowed")


def test_readyz_when_the_database_does_not_answer(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))  # no migrations: no crawl_runs table
    app = create_app(Settings(db=db_path), connection=con)  # type: ignore[call-arg]
    with TestClient(app) as client:
        assert_not_ready(client.get("/readyz"), "the database does not answer")
    con.close()


# --- /metrics ---------------------------------------------------------------------------------


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_template(
    con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    seed_sample(con)
    with TestClient(create_app(Settings(db=db_path), connection=con)) as client:
        before = scrape(client)
        for _ in range(3):
            assert client.get("/v1/repos/acme/chat-studio").status_code == 200
        assert client.get("/v1/repos/nobody/nothing").status_code == 404
        assert client.get("/no/such/path/12345").status_code == 404
        after = scrape(client)
        text = client.get("/metrics").text
    route = "/v1/repos/{owner}/{name}"
    name = "stackatlas_http_requests_total"
    ok = {"method": "GET", "route": route, "status": "200"}
    assert value(after, name, **ok) - value(before, name, **ok) == 3
    missing = {"method": "GET", "route": route, "status": "404"}
    assert value(after, name, **missing) - value(before, name, **missing) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, name, **unmatched) - value(before, name, **unmatched) == 1
    latency = "stackatlas_http_request_duration_seconds_count"
    assert value(after, latency, method="GET", route=route) >= 4
    assert "chat-studio" not in text and "/no/such/path" not in text


ANSWERS = ("2xx", "3xx", "4xx", "5xx", "not_modified", "error")
KINDS = ("pacing", "reset", "secondary", "retry")


def github_requests(bucket: str) -> float:
    return sum(
        metrics.sample_value("stackatlas_github_requests_total", {"bucket": bucket, "answer": a})
        for a in ANSWERS
    )


def limiter_waits() -> float:
    return sum(
        metrics.sample_value("stackatlas_rate_limit_waits_total", {"bucket": b, "kind": k})
        for b in ("search", "core") for k in KINDS
    )


def test_crawl_counts_requests_per_bucket_and_waits(tmp_path: Path) -> None:
    from warehouse.db import connect

    before = {bucket: github_requests(bucket) for bucket in ("search", "core")}
    waits_before = limiter_waits()
    con = connect(tmp_path / "w.duckdb")
    with ReplayServer(population(300), rate_limits=FAST_LIMITS) as server:
        result = crawl(con, server.url, readme=True)
    con.close()
    for bucket in ("search", "core"):
        assert github_requests(bucket) - before[bucket] == result.requests[bucket] > 0
    assert limiter_waits() - waits_before == result.waits


def test_labels_llm_calls_and_jobs_are_exposed(
    con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    from classifier.llm import LLMClient
    from standins.fake_llm import FakeLLMServer

    labels_before = metrics.sample_value("stackatlas_labels_total", {"method": "model"})
    seed_sample(con)  # writes model and human labels through warehouse.labels
    assert metrics.sample_value("stackatlas_labels_total", {"method": "model"}) > labels_before
    ok_before = metrics.sample_value("stackatlas_llm_requests_total", {"outcome": "ok"})
    tokens_before = metrics.sample_value("stackatlas_llm_tokens_total", {"kind": "prompt"})
    with FakeLLMServer(mode="good") as server, LLMClient(server.url, "fake") as client:
        result = client.chat([{"role": "user", "content": "[]"}], {"type": "object"}, 50)
    assert metrics.sample_value("stackatlas_llm_requests_total", {"outcome": "ok"}) == \
        ok_before + 1
    assert metrics.sample_value("stackatlas_llm_tokens_total", {"kind": "prompt"}) == \
        tokens_before + result.prompt_tokens
    metrics.observe_job("crawl", 12.5, "succeeded")
    started = time.time()
    metrics.observe_job("crawl", 3.0, "failed")
    with TestClient(create_app(Settings(db=db_path), connection=con)) as client:
        samples = scrape(client)
    assert value(samples, "stackatlas_job_duration_seconds_count",
                 job="crawl", outcome="succeeded") >= 1
    assert value(samples, "stackatlas_job_last_finished_timestamp_seconds",
                 job="crawl", outcome="failed") >= started
    assert value(samples, "stackatlas_labels_total", method="model") >= 1
    in_force = con.execute(
        "SELECT count(*) FROM labelled_repositories WHERE status = 'active' AND method = 'model'"
    ).fetchall()[0][0]
    assert value(samples, "stackatlas_current_labels", method="model") == in_force > 0
