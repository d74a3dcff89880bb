"""Secrets never leave: a whole run with DEBUG logs, then every byte it wrote is searched.

The run: a crawl of the replay server (with a token pasted with a stray newline, and injected
5xx faults so that retries log), a crawl that fails, a classification that asks a fake LLM with
an API key, another against a dead LLM, API writes with the key and with wrong keys, and CLI
commands that fail at DEBUG level. The logs are not redacted for this test (no secrets are given
to the redactor), so a hit means the code itself logged or stored a secret.
"""

from __future__ import annotations

import logging
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from classifier.service import classify_repositories
from stackatlas.errors import StackatlasError
from stackatlas.logs import configure_logging
from stackatlas.main import main
from stackatlas.settings import Settings, load_settings
from standins.fake_llm import FakeLLMServer
from standins.github import FaultConfig, ReplayServer
from tests.test_crawl import FAST_LIMITS, crawl, population
from warehouse.db import connect

GITHUB_TOKEN = "ghp_LEAKCHECK_github_5f1d0c9a"
LLM_KEY = "sk-LEAKCHECK-llm-3e7b21"
API_KEY = "ak-LEAKCHECK-api-90c4d8"
SECRETS = (GITHUB_TOKEN, LLM_KEY, API_KEY)


def dead_url(path: str = "") -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return [secret for secret in SECRETS if secret.encode() in data]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Data, database and temporary files of the run all under one folder to search."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN + "\n")  # pasted with a stray newline
    monkeypatch.setenv("STACKATLAS_LLM_API_KEY", LLM_KEY)
    monkeypatch.setenv("STACKATLAS_API_KEY", API_KEY)
    monkeypatch.setenv("STACKATLAS_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("STACKATLAS_LOG_FORMAT", "json")
    yield tmp_path


def run_crawls(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    faults = FaultConfig(seed=4, error_rate=0.08)
    with ReplayServer(population(150), rate_limits=FAST_LIMITS, faults=faults) as server:
        crawl(con, server.url, settings=settings, readme=True)
        assert server.stats.requests, "the replay server saw no request"
    failing = settings.model_copy(update={"max_retries": 1})
    with pytest.raises(StackatlasError):
        crawl(con, dead_url(), settings=failing)


def run_classify(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    with FakeLLMServer(mode="good") as server:
        with_llm = settings.model_copy(update={"llm_url": server.url, "llm_threshold": 1.0})
        result = classify_repositories(con, with_llm, use_llm=True)
        assert result.llm_requests > 0
        # the key did travel, in the header only
        assert server.requests[0]["authorization"] == f"Bearer {LLM_KEY}"
    dead = settings.model_copy(update={"llm_url": dead_url("/v1"), "llm_threshold": 1.0,
                                       "llm_timeout": 1.0})
    con.execute("UPDATE repositories SET text_hash = NULL")
    classify_repositories(con, dead, use_llm=True)


def run_api(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    seen: list[str] = []
    with TestClient(create_app(settings, connection=con), raise_server_exceptions=False) as client:
        name = con.execute("SELECT full_name FROM repositories LIMIT 1").fetchall()[0][0]
        calls = [
            ("PUT", f"/v1/repos/{name}/label", API_KEY, {"category": "tutorials", "note": "ok"}),
            ("PUT", f"/v1/repos/{name}/label", LLM_KEY, {"category": "tutorials"}),
            ("PUT", f"/v1/repos/{name}/label", GITHUB_TOKEN + "x", {"category": "nope"}),
            ("PUT", "/v1/repos/nobody/nothing/label", API_KEY, {"category": "tutorials"}),
            ("GET", f"/v1/repos/{name}", None, None),
            ("GET", "/v1/repos?format=csv", None, None),
            ("GET", "/readyz", None, None),
            ("GET", "/healthz", None, None),
            ("GET", "/metrics", None, None),
            ("GET", "/openapi.json", None, None),
            ("GET", "/docs", None, None),
            ("GET", "/no/such/page", None, None),
        ]
        statuses = []
        for method, url, key, body in calls:
            headers = {"X-API-Key": key} if key else {}
            response = client.request(method, url, headers=headers, json=body)
            statuses.append(response.status_code)
            seen.append(f"{response.status_code} {dict(response.headers)}\n{response.text}")
        assert statuses[:4] == [200, 401, 401, 404]
    return seen


def run_cli(monkeypatch: pytest.MonkeyPatch, workdir: Path, *args: str) -> None:
    monkeypatch.setenv("STACKATLAS_MAX_RETRIES", "0")
    monkeypatch.setattr(sys, "argv", ["stackatlas", "--verbose", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code != 0


def all_tables(con: duckdb.DuckDBPyConnection) -> str:
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    assert "crawl_runs" in names and "classifications" in names
    return "\n".join(
        f"{name}: {con.execute(f'SELECT * FROM {name}').fetchall()}" for name in names
    )


def every_file(folder: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield path, path.read_bytes()


@pytest.mark.slow
def test_no_secret_in_logs_database_responses_or_files(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = load_settings().model_copy(update={"db": workdir / "data" / "w.duckdb"})
    assert settings.github_token_value() == GITHUB_TOKEN  # stripped, and in use
    configure_logging("DEBUG", log_format="json")  # no secrets given: nothing is redacted
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)

    con = connect(settings.db_path)
    run_crawls(con, settings)
    run_classify(con, settings)
    responses = run_api(con, settings)
    tables = all_tables(con)
    con.execute("CHECKPOINT")
    con.close()
    run_cli(monkeypatch, workdir, "crawl", "--api-url", dead_url(), "--db",
            str(workdir / "cli.duckdb"), "--no-progress")
    run_cli(monkeypatch, workdir, "label", "set", "no/such", "tutorials", "--db",
            str(settings.db_path))

    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    out, err = capfd.readouterr()
    assert err.count("{") > 50, "the JSON log lines were not captured"
    assert leaks(logged) == [], "a secret reached a log record"
    assert leaks(out + err) == [], "a secret reached stdout/stderr"
    assert leaks(tables) == [], "a secret is stored in a table"
    for response in responses:
        assert leaks(response) == [], f"a secret is in an HTTP response: {response[:200]}"
    files = list(every_file(workdir))
    assert any(path.suffix == ".duckdb" for path, _ in files)
    for path, data in files:
        assert leaks(data) == [], f"a secret is in {path}"


def test_the_search_finds_a_planted_secret(tmp_path: Path) -> None:
    """The grep above can fail: a secret written to a file or a table is found."""
    (tmp_path / "log.txt").write_text(f"Authorization: Bearer {GITHUB_TOKEN}")
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    con.execute("CREATE TABLE crawl_runs (error VARCHAR)")
    con.execute("CREATE TABLE classifications (note VARCHAR)")
    con.execute("INSERT INTO classifications VALUES (?)", [LLM_KEY])
    con.execute("CHECKPOINT")
    assert leaks(all_tables(con)) == [LLM_KEY]
    con.close()
    found = {secret for _, data in every_file(tmp_path) for secret in leaks(data)}
    assert found == {GITHUB_TOKEN, LLM_KEY}
    assert leaks(httpx.Response(401, text=API_KEY).text) == [API_KEY]
