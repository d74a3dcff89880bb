"""Operations bugs of issue 11: pasted tokens, free 304s, full disks, damaged files,
incomplete search pages, and migrating a database an older release wrote (with data)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from collector.github import GitHubClient
from collector.ratelimit import CORE, RateLimiter
from stackatlas.errors import ConfigError, DatabaseError, DiskFullError
from stackatlas.main import main
from stackatlas.settings import Settings, load_settings
from standins.github import FaultConfig, ReplayServer
from tests.conftest import PROJECT_ROOT
from tests.factories import seed_sample
from tests.test_crawl import FAST_LIMITS, crawl, ids, population
from warehouse import crawls
from warehouse.db import connect
from warehouse.labels import refresh_current_labels
from warehouse.schema import MIGRATIONS, applied_versions, apply_migrations

DISK_FULL = (
    'TransactionContext Error: Failed to commit: Could not write file "x.duckdb.wal": '
    "No space left on device"
)

# --- secrets pasted with blank space --------------------------------------------------------


def test_token_with_a_stray_newline_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_pasted_token_42\n")
    monkeypatch.setenv("STACKATLAS_LLM_API_KEY", "  sk-key-77 ")
    settings = load_settings()
    assert settings.github_token_value() == "ghp_pasted_token_42"
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-key-77"


def test_blank_token_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", " \n")
    assert load_settings().github_token is None


def test_token_broken_inside_is_one_config_error_without_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_first_half\nghp_second_half")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    line = caught.value.one_line()
    assert "GITHUB_TOKEN" in line and "line break" in line
    assert "ghp_first_half" not in line and "ghp_second_half" not in line
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_illegal_header_is_a_config_error_sent_once_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A token that bypassed the settings check: no retries as if GitHub were down."""
    caplog.set_level(logging.DEBUG)
    snapshot = population(50)
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        client = GitHubClient(server.url, "ghp_SECRET_half\nrest", backoff_base=0.001)
        with pytest.raises(ConfigError) as caught:
            client.search_repositories("stars:>=500")
        assert sum(server.stats.requests.values()) == 0
    assert caught.value.__cause__ is None
    assert "GITHUB_TOKEN" in caught.value.one_line()
    assert "retry" not in caplog.text
    # httpcore's own DEBUG line quotes the header; the CLI sets httpcore to WARNING and the
    # redactor blanks it anyway (tests/test_observability.py), so only that line may hold it.
    leaking = [r for r in caplog.records if "ghp_SECRET_half" in r.getMessage()]
    assert all(r.name.startswith("httpcore") for r in leaking)


# --- 304s are free --------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def readme_transport(status: int, remaining: int, reset: float) -> httpx.MockTransport:
    """Every README answers ``status``; the core bucket is in its last quarter."""

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(int(reset)),
            "x-ratelimit-resource": "core",
            "etag": '"abc"',
        }
        if status == 304:
            return httpx.Response(304, headers=headers)
        body = {"content": "aGVsbG8=", "encoding": "base64"}
        return httpx.Response(200, json=body, headers=headers)

    return httpx.MockTransport(handler)


def fetch_readmes(status: int, count: int) -> FakeTime:
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    transport = readme_transport(status, remaining=200, reset=fake.now + 3600)
    with GitHubClient("https://api.test", "t", limiter=limiter, transport=transport) as client:
        for number in range(count):
            client.get_readme(f"o/r{number}", etag='"abc"')
    return fake


def test_revalidated_readmes_answered_304_are_not_paced() -> None:
    assert fetch_readmes(304, 375).slept == 0.0


def test_readmes_answered_200_in_a_low_bucket_still_are() -> None:
    # 200 left for an hour: the limiter spreads them, at most 10 s apart.
    assert fetch_readmes(200, 20).slept > 19 * 9


def test_a_304_gives_its_place_back_to_the_bucket() -> None:
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    limiter.update(CORE, {"x-ratelimit-remaining": "100", "x-ratelimit-reset": "2000000"})
    limiter.acquire(CORE)
    limiter.refund(CORE, {})
    assert limiter.buckets[CORE].remaining == 100
    assert limiter.buckets[CORE].last_sent is None


# --- a full disk ----------------------------------------------------------------------------


def test_classify_on_a_full_disk_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import classifier.service

    def full_disk(*_: object, **__: object) -> None:
        raise duckdb.TransactionException(DISK_FULL)

    db = tmp_path / "x.db"
    connect(db).close()
    monkeypatch.setattr(classifier.service, "classify_repositories", full_disk)
    monkeypatch.setattr(sys, "argv", ["stackatlas", "classify", "--db", str(db)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == DiskFullError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: the disk under") and "free some disk space" in err[0]


class FullDiskCursor:
    """A cursor whose writes fail the way DuckDB fails when the disk is full."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor

    def execute(self, query: str, *args: object) -> object:
        if query.lstrip().upper().startswith(("INSERT", "UPDATE", "COMMIT")):
            raise duckdb.TransactionException(DISK_FULL)
        return self.cursor.execute(query, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.cursor, name)


class FullDiskConnection:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def cursor(self) -> FullDiskCursor:
        return FullDiskCursor(self.con.cursor())


def test_label_put_on_a_full_disk_is_507_in_the_error_shape(
    con: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    seed_sample(con)
    before = con.execute("SELECT count(*) FROM classifications").fetchall()
    settings = Settings(db=db_path, api_key=SecretStr("k-123456"))
    app = create_app(settings, connection=con)
    with TestClient(app) as client:
        app.state.connection = FullDiskConnection(con)
        response = client.put(
            "/v1/repos/acme/chat-studio/label",
            json={"category": "tutorials"},
            headers={"X-API-Key": "k-123456"},
        )
    assert response.status_code == 507, response.text
    error = response.json()["error"]
    assert error["code"] == "disk_full"
    assert "free some disk space" in error["hint"]
    assert con.execute("SELECT count(*) FROM classifications").fetchall() == before


# --- the real thing, on a small tmpfs (needs the right to mount; CI runs as root) -------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
        capture_output=True, check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_real_full_disk_classify_is_one_line_and_loses_nothing(tiny_disk: Path) -> None:
    db = tiny_disk / "w.duckdb"
    con = connect(db)
    seed_sample(con)
    rows_before = con.execute("SELECT count(*) FROM repositories").fetchall()
    labels_before = con.execute("SELECT count(*) FROM classifications").fetchall()
    con.execute("CHECKPOINT")
    con.close()
    filler = fill(tiny_disk)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tiny_disk),
           "STACKATLAS_DATA_DIR": str(tiny_disk.parent / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "stackatlas", "classify", "--db", str(db), "--retrain"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if " INFO " not in line]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: the disk under") and "Traceback" not in done.stderr
    filler.unlink()
    con = connect(db)
    assert con.execute("SELECT count(*) FROM repositories").fetchall() == rows_before
    assert con.execute("SELECT count(*) FROM classifications").fetchall() == labels_before
    con.close()


@pytest.mark.slow
def test_real_full_disk_label_put_is_507_and_the_server_recovers(tiny_disk: Path) -> None:
    db = tiny_disk / "w.duckdb"
    con = connect(db)
    seed_sample(con)
    con.execute("CHECKPOINT")
    settings = Settings(db=db, api_key=SecretStr("k-123456"))
    put = {"json": {"category": "tutorials"}, "headers": {"X-API-Key": "k-123456"}}
    with TestClient(create_app(settings, connection=con)) as client:
        filler = fill(tiny_disk)
        full = client.put("/v1/repos/acme/chat-studio/label", **put)  # type: ignore[arg-type]
        assert full.status_code == 507 and full.json()["error"]["code"] == "disk_full"
        assert client.get("/v1/repos/acme/chat-studio").status_code == 200
        filler.unlink()
        again = client.put("/v1/repos/acme/chat-studio/label", **put)  # type: ignore[arg-type]
        assert again.status_code == 200, again.text
    con.close()
    con = connect(db)
    methods = con.execute(
        "SELECT method FROM classifications WHERE repo_id = 101 AND category = 'tutorials'"
    ).fetchall()
    assert methods == [("human",)]
    con.close()


@pytest.mark.slow
def test_real_full_disk_crawl_is_one_line_and_resumes_after(tiny_disk: Path) -> None:
    db = tiny_disk / "w.duckdb"
    connect(db).close()
    stats = os.statvfs(tiny_disk)
    filler = tiny_disk / "filler"
    filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 300_000))  # ~300 KB left
    snapshot = population(3000, seed=3)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tiny_disk),
           "GITHUB_TOKEN": "ghp_full_disk_test"}
    command = [sys.executable, "-m", "stackatlas", "crawl", "--all-500", "--no-readme",
               "--no-progress", "--db", str(db)]
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        full = subprocess.run([*command, "--api-url", server.url], capture_output=True,
                              text=True, timeout=300, env=env, check=False)
        assert full.returncode != 0
        errors = [line for line in full.stderr.splitlines() if " INFO " not in line]
        assert len(errors) == 1 and errors[0].startswith("error: the disk under"), full.stderr
        filler.unlink()
        con = connect(db)
        kept = len(ids(con))
        assert 0 < kept < len(snapshot)
        con.close()
        resumed = subprocess.run([*command, "--api-url", server.url, "--resume"],
                                 capture_output=True, text=True, timeout=300, env=env,
                                 check=False)
        assert resumed.returncode == 0, resumed.stderr
    con = connect(db)
    assert ids(con) == {r.id for r in snapshot if r.stars >= 500}
    runs = con.execute("SELECT count(*), min(status) FROM crawl_runs").fetchall()
    assert runs == [(1, crawls.SUCCEEDED)]
    con.close()


# --- a damaged database file ----------------------------------------------------------------


def damaged(tmp_path: Path, keep: float) -> Path:
    path = tmp_path / "damaged.duckdb"
    con = connect(path)
    seed_sample(con)
    con.execute("CHECKPOINT")
    con.close()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize("keep", [0.0, 0.003, 0.5])
def test_truncated_database_is_one_clear_error(tmp_path: Path, keep: float) -> None:
    path = damaged(tmp_path, keep)
    with pytest.raises(DatabaseError) as caught:
        connect(path)
    line = caught.value.one_line()
    assert "damaged or truncated" in line and "mv " in line
    assert "\n" not in line


def test_truncated_database_on_the_cli_is_one_line(tmp_path: Path) -> None:
    path = damaged(tmp_path, 0.5)
    done = subprocess.run(
        [sys.executable, "-m", "stackatlas", "counts", "--db", str(path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tmp_path)},
    )
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "damaged or truncated" in done.stderr


# --- incomplete search pages -----------------------------------------------------------------


def test_incomplete_pages_leave_the_run_partial_and_resume_fetches_them(
    tmp_path: Path,
) -> None:
    snapshot = population(1500, seed=5)
    expected = {r.id for r in snapshot if r.stars >= 500}
    con = connect(tmp_path / "w.duckdb")
    faults = FaultConfig(seed=3, incomplete_rate=0.5)
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS, faults=faults) as server:
        first = crawl(con, server.url, settings=Settings(max_retries=1))  # type: ignore[call-arg]
    assert first.partial and "PARTIAL" in str(first)
    run = con.execute("SELECT status, error FROM crawl_runs WHERE id = ?",
                      [first.run_id]).fetchall()[0]
    assert run[0] == crawls.PARTIAL and "incomplete" in run[1]
    assert crawls.incomplete_slices(con, first.run_id)
    assert ids(con) < expected  # some repositories are missing, and the run says so

    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        again = crawl(con, server.url, resume=True)
    assert again.run_id == first.run_id and not again.partial
    assert ids(con) == expected
    status = con.execute("SELECT status FROM crawl_runs WHERE id = ?", [first.run_id]).fetchall()
    assert status == [(crawls.SUCCEEDED,)]
    observed = con.execute(
        "SELECT count(*), count(DISTINCT repo_id) FROM observations WHERE run_id = ?",
        [first.run_id],
    ).fetchall()[0]
    assert observed == (len(expected), len(expected))
    con.close()


def test_a_new_run_after_a_partial_one_fetches_everything(tmp_path: Path) -> None:
    snapshot = population(600, seed=8)
    con = connect(tmp_path / "w.duckdb")
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS,
                      faults=FaultConfig(seed=1, incomplete_rate=1.0)) as server:
        first = crawl(con, server.url, settings=Settings(max_retries=0))  # type: ignore[call-arg]
    assert first.partial
    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        second = crawl(con, server.url)
    assert second.run_id != first.run_id and not second.partial
    assert ids(con) == {r.id for r in snapshot if r.stars >= 500}
    con.close()


# --- migrating a database an older release wrote ----------------------------------------------


def write_old_release_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Rows in the tables every release since migration 1 has had, through plain SQL."""
    seen = datetime(2026, 1, 5, 6, 0)
    for repo_id, name, created, stars in (
        (1, "acme/agent-kit", date(2023, 3, 1), 1500),
        (2, "acme/vector-db", date(2024, 7, 9), 900),
        (3, "solo/tutorial", date(2025, 1, 2), 600),
    ):
        owner, short = name.split("/")
        con.execute(
            "INSERT INTO repositories (id, full_name, owner, name, description, created_at, stars,"
            " first_seen_at, last_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [repo_id, name, owner, short, f"about {short}", created, stars, seen, seen, seen],
        )
        con.execute("INSERT INTO repository_names VALUES (?, ?, ?)", [repo_id, name, seen])
        con.execute("INSERT INTO observations VALUES (1, ?, ?, ?, 10)", [repo_id, seen, stars])
    con.execute(
        "INSERT INTO crawl_runs (started_at, finished_at, status, mode, api_url, repos_seen)"
        " VALUES (?, ?, 'succeeded', 'queries', 'https://api.github.com', 3)", [seen, seen],
    )
    for repo_id, layer, category, method in (
        (1, "application", "applications", "model"),
        (1, "application", "app-development", "human"),
        (2, "infrastructure", "infrastructure", "model"),
    ):
        con.execute(
            "INSERT INTO classifications (repo_id, layer, category, method, taxonomy_version,"
            " created_at) VALUES (?, ?, ?, ?, 'v1', ?)", [repo_id, layer, category, method, seen],
        )


def build_old_database(path: Path, version: int) -> None:
    """The file a release whose last migration was ``version`` wrote, with rows in it."""
    con = duckdb.connect(str(path))
    applied_versions(con)  # creates the bookkeeping table
    for migration in MIGRATIONS:
        if migration.version > version:  # by number: numbers may skip (there is no 10)
            break
        con.execute(migration.sql)
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    [migration.version, migration.name])
    write_old_release_rows(con)
    if version >= CURRENT_LABELS_TABLE_VERSION:  # that release kept the table on label writes
        refresh_current_labels(con)
    con.close()


def table_rows(con: duckdb.DuckDBPyConnection, table: str, columns: str) -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()


OLD_VERSIONS = [m.version for m in MIGRATIONS[:-1]]
CURRENT_LABELS_TABLE_VERSION = 11


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_a_database_with_data_migrates_from_an_older_release(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / f"release-{version}.duckdb"
    build_old_database(path, version)
    old = duckdb.connect(str(path))
    kept = {
        "repositories": table_rows(old, "repositories", "id, full_name, stars, created_at"),
        "observations": table_rows(old, "observations", "run_id, repo_id, stars"),
        "classifications": table_rows(old, "classifications", "repo_id, category, method"),
        "crawl_runs": table_rows(old, "crawl_runs", "id, status, repos_seen"),
    }
    old.close()

    con = connect(path)  # migrates to the head
    applied = [r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()]
    assert sorted(applied) == [m.version for m in MIGRATIONS]
    assert table_rows(con, "repositories", "id, full_name, stars, created_at") == \
        kept["repositories"]
    assert table_rows(con, "observations", "run_id, repo_id, stars") == kept["observations"]
    assert table_rows(con, "classifications", "repo_id, category, method") == \
        kept["classifications"]
    assert table_rows(con, "crawl_runs", "id, status, repos_seen") == kept["crawl_runs"]
    # the views of the head work over the old rows: the human label wins
    current = table_rows(con, "current_labels", "repo_id, method")
    assert current == [(1, "human"), (2, "model")]
    months = con.execute(
        "SELECT month, category, cumulative_repos FROM monthly_counts"
        " WHERE category = 'app-development' AND month = DATE '2023-03-01'"
    ).fetchall()
    assert months == [(date(2023, 3, 1), "app-development", 1)]
    # and the warehouse takes new writes (sequences carried over)
    con.execute(
        "INSERT INTO crawl_runs (started_at, status, mode, api_url) VALUES (now(), 'running',"
        " 'queries', 'x')"
    )
    assert con.execute("SELECT max(id) FROM crawl_runs").fetchall() == [(2,)]
    con.close()


def test_migrating_an_old_database_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    build_old_database(path, 1)
    connect(path).close()
    con = connect(path)
    assert apply_migrations(con) == []
    assert os.path.getsize(path) > 0
    con.close()
