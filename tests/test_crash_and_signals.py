"""Crash safety and stopping, with real processes: kill -9 in each stage then restart, SIGTERM
and Ctrl-C on `serve` and on a crawl, and the one line a second process gets.

Each interrupted warehouse is compared with the one an uninterrupted run wrote (``baseline``).
"""

from __future__ import annotations

import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from stackatlas.scheduler import STOPPED
from standins.github import FaultConfig, RateLimitConfig, ReplayServer, Snapshot
from standins.sample import generate_sample
from tests.service_harness import (
    API_KEY,
    TOKEN,
    Child,
    data_dir_with_model,
    free_port,
    job_history,
    service_env,
    snapshot_of,
    stackatlas,
)
from warehouse import jobs
from warehouse.db import connect

FAST_LIMITS = RateLimitConfig(search_limit=30, search_window=1.0, core_limit=5000, core_window=60)
SLOW = FaultConfig(latency=0.25)
REPOS = 600  # six search pages

# A child that stops (and waits to be killed) inside a stage: the hook wraps a real function.
PAUSE_CHILD = textwrap.dedent(
    """
    import sys, time
    target, attribute = sys.argv[1], sys.argv[2]
    module = __import__(target, fromlist=["_"])
    holder = getattr(module, "STEPS", None) if attribute.startswith("STEPS.") else None
    name = attribute.split(".")[-1]
    real = holder[name] if holder is not None else getattr(module, name)

    def paused(*args, **kwargs):
        result = real(*args, **kwargs)
        print("PAUSED in", attribute, flush=True)
        time.sleep(300)
        return result

    if holder is not None:
        holder[name] = paused
    else:
        setattr(module, name, paused)
    from stackatlas.main import main
    sys.argv = ["stackatlas", *sys.argv[3:]]
    main()
    """
)


@pytest.fixture(scope="module")
def trained(trained_data_dir: Path) -> Path:
    return trained_data_dir


@pytest.fixture(scope="module")
def population() -> Snapshot:
    return Snapshot(generate_sample(n=REPOS, seed=5))


@pytest.fixture(scope="module")
def replay(population: Snapshot) -> Iterator[ReplayServer]:
    with ReplayServer(population, rate_limits=FAST_LIMITS) as server:
        yield server


@pytest.fixture(scope="module")
def slow_replay(population: Snapshot) -> Iterator[ReplayServer]:
    with ReplayServer(population, rate_limits=FAST_LIMITS, faults=SLOW) as server:
        yield server


@pytest.fixture(scope="module")
def baseline(
    trained: Path, replay: ReplayServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The warehouse of one uninterrupted `run-now discovery` (crawl → classify → release)."""
    folder = tmp_path_factory.mktemp("baseline")
    db = folder / "whole.duckdb"
    env = service_env(replay.url, db, data_dir_with_model(trained, folder / "data"), free_port())
    done = stackatlas("run-now", "discovery", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert job_history(db) == [("discovery", "succeeded", None), ("classify", "succeeded", None),
                               ("release", "succeeded", None)]
    return snapshot_of(db)


def child_env(trained: Path, tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    data = data_dir_with_model(trained, tmp_path / "data")
    return service_env(url, tmp_path / "w.duckdb", data, free_port(), **extra)


def kill(child: Child) -> None:
    child.process.send_signal(signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    assert TOKEN not in child.output and API_KEY not in child.output


def assert_like_baseline(db: Path, baseline: dict[str, Any]) -> None:
    got = snapshot_of(db)
    assert len(got["repositories"]) == REPOS
    assert len(got["labels"]) == REPOS  # one label each: none lost, none twice
    assert len(got["releases"]) == 1  # a release interrupted before its commit left nothing
    for part in ("repositories", "labels", "observations", "crawl_runs", "releases",
                 "released_labels"):
        assert got[part] == baseline[part], part


@pytest.mark.slow
def test_kill_during_the_crawl_then_restart_resumes_it(
    trained: Path, replay: ReplayServer, baseline: dict[str, Any], tmp_path: Path
) -> None:
    env = child_env(trained, tmp_path, replay.url)
    child = Child(["-m", "stackatlas", "run-now", "discovery"], env)
    child.wait_for("saved page", count=3)
    kill(child)

    again = stackatlas("run-now", "discovery", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed True" in again.stdout
    db = tmp_path / "w.duckdb"
    assert job_history(db) == [
        ("discovery", "failed", jobs.INTERRUPTED), ("discovery", "succeeded", None),
        ("classify", "succeeded", None), ("release", "succeeded", None)]
    assert_like_baseline(db, baseline)


@pytest.mark.slow
def test_kill_during_classification_then_restart(
    trained: Path, replay: ReplayServer, baseline: dict[str, Any], tmp_path: Path
) -> None:
    env = child_env(trained, tmp_path, replay.url)
    # Killed after the labels were inserted, before their transaction committed.
    child = Child(["-c", PAUSE_CHILD, "classifier.service", "insert_labels",
                   "run-now", "discovery"], env)
    child.wait_for("PAUSED")
    kill(child)
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM classifications").fetchall() == [(0,)]
    con.close()

    again = stackatlas("run-now", "classify", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert job_history(db) == [
        ("discovery", "succeeded", None), ("classify", "failed", jobs.INTERRUPTED),
        ("classify", "succeeded", None), ("release", "succeeded", None)]
    assert_like_baseline(db, baseline)


@pytest.mark.slow
def test_kill_during_the_release_then_restart(
    trained: Path, replay: ReplayServer, baseline: dict[str, Any], tmp_path: Path
) -> None:
    env = child_env(trained, tmp_path, replay.url)
    # Killed inside the release's transaction, after its first table was frozen.
    child = Child(["-c", PAUSE_CHILD, "warehouse.releases", "_freeze",
                   "run-now", "discovery"], env)
    child.wait_for("PAUSED")
    kill(child)

    again = stackatlas("run-now", "release", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    db = tmp_path / "w.duckdb"
    assert job_history(db) == [
        ("discovery", "succeeded", None), ("classify", "succeeded", None),
        ("release", "failed", jobs.INTERRUPTED), ("release", "succeeded", None)]
    assert_like_baseline(db, baseline)


def wait_until_serving(url: str, child: Child, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/runs", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
        assert child.process.poll() is None, child.output[-3000:]
    raise AssertionError(f"server did not start:\n{child.output[-3000:]}")


@pytest.mark.slow
def test_sigterm_on_serve_checkpoints_the_crawl_exits_0_and_the_next_run_resumes(
    trained: Path, slow_replay: ReplayServer, baseline: dict[str, Any], tmp_path: Path
) -> None:
    env = child_env(trained, tmp_path, slow_replay.url)
    url = f"http://127.0.0.1:{env['STACKATLAS_PORT']}"
    server = Child(["-m", "stackatlas", "serve"], env)
    wait_until_serving(url, server)
    queued = httpx.post(f"{url}/v1/runs", json={"job": "discovery"},
                        headers={"X-API-Key": API_KEY})
    assert queued.status_code == 202
    server.wait_for("saved page", count=2)

    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.wait(30)
    elapsed = time.monotonic() - started
    assert code == 0 and elapsed < 10, (code, elapsed, server.output[-2000:])
    assert "Traceback" not in server.output
    db = tmp_path / "w.duckdb"
    assert job_history(db) == [("discovery", "failed", STOPPED)]
    assert snapshot_of(db)["crawl_runs"] == [(1, "failed")]

    again = stackatlas("run-now", "discovery", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed True" in again.stdout
    assert_like_baseline(db, baseline)


@pytest.mark.slow
def test_sigterm_and_ctrl_c_on_a_crawl_are_one_line_and_it_resumes(
    trained: Path, slow_replay: ReplayServer, baseline: dict[str, Any], tmp_path: Path
) -> None:
    env = child_env(trained, tmp_path, slow_replay.url)
    db = tmp_path / "w.duckdb"
    crawl = ["-m", "stackatlas", "crawl", "--all-500", "--no-readme", "--no-progress"]

    for signum, expected, options in ((signal.SIGTERM, 0, []), (signal.SIGINT, 130, ["--resume"])):
        child = Child([*crawl, *options], env)
        child.wait_for("saved page")
        started = time.monotonic()
        child.process.send_signal(signum)
        code = child.wait(30)
        assert code == expected and time.monotonic() - started < 10, child.output[-2000:]
        name = signal.Signals(signum).name
        last = child.output.strip().splitlines()[-1]
        assert last.startswith(("stopped by", "error: stopped by")) and name in last, last
        assert "Traceback" not in child.output and "Query interrupted" not in child.output
        assert snapshot_of(db)["crawl_runs"] == [(1, "failed")]

    finished = stackatlas(*crawl[2:], "--resume", env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    got = snapshot_of(db)
    assert got["repositories"] == baseline["repositories"]
    assert got["crawl_runs"] == [(1, "succeeded")] and got["observations"] == [(1, REPOS, REPOS)]


@pytest.mark.slow
def test_while_serve_runs_the_cli_goes_through_it_or_gets_one_line(
    trained: Path, replay: ReplayServer, tmp_path: Path
) -> None:
    env = child_env(trained, tmp_path, replay.url, STACKATLAS_SCHEDULE="true")
    url = f"http://127.0.0.1:{env['STACKATLAS_PORT']}"
    server = Child(["-m", "stackatlas", "serve"], env)
    wait_until_serving(url, server)
    try:
        through = stackatlas("run-now", "discovery", "--wait", env=env)
        assert through.returncode == 0, through.stderr[-3000:]
        assert f"queued on {url}" in through.stdout
        assert "release: succeeded" in through.stdout

        for command in (["counts"], ["crawl", "--all-500"], ["serve", "--port", "0"]):
            refused = stackatlas(*command, env=env)
            assert refused.returncode == 1
            lines = refused.stderr.strip().splitlines()
            assert len(lines) == 1, refused.stderr[-3000:]
            assert f"the stackatlas server at {url}" in lines[0] and "run-now" in lines[0]
    finally:
        server.process.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0


def test_a_read_only_database_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from stackatlas.errors import DatabaseError

    target = tmp_path / "ro.duckdb"
    target.touch()

    def refuse(path: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Permission denied')

    monkeypatch.setattr(duckdb, "connect", refuse)
    with pytest.raises(DatabaseError) as error:
        connect(target)
    assert error.value.one_line() == (
        f"database {target} is not writable (a read-only file or folder) — give this user "
        "write access to the file and its folder, or choose another --db")
