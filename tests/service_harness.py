"""What the service tests share: a trained model, child processes of `stackatlas`, and the
comparison of a warehouse with the one an uninterrupted run wrote."""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from classifier.service import current_model
from stackatlas.settings import Settings
from warehouse.db import connect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghp_SERVICE_MARKER_51ab"
API_KEY = "service-key-93fe"
REPO_FIELDS = (
    "id, full_name, owner, name, description, language, license, topics, homepage, created_at,"
    " pushed_at, archived, stars, forks, status, text_hash"
)
LABEL_FIELDS = "repo_id, layer, category, subcategory, method, model_version, text_hash"


def train_once(directory: Path) -> Path:
    """A data folder holding the trained model, so that each run does not train its own."""
    settings = Settings(data_dir=directory)
    con = connect(":memory:")
    try:
        current_model(con, settings)
    finally:
        con.close()
    return directory


def data_dir_with_model(trained: Path, target: Path) -> Path:
    shutil.copytree(trained / "models", target / "models")
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(api_url: str, db: Path, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a child `stackatlas`: the replay as GitHub, no READMEs (they are
    paced at 900 a minute, as on GitHub), every repository above the threshold."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("STACKATLAS_") and key != "GITHUB_TOKEN"}
    env.update({
        "PYTHONPATH": str(PROJECT_ROOT),
        "GITHUB_TOKEN": TOKEN,
        "STACKATLAS_API_URL": api_url,
        "STACKATLAS_DB": str(db),
        "STACKATLAS_DATA_DIR": str(data_dir),
        "STACKATLAS_PORT": str(port),
        "STACKATLAS_API_KEY": API_KEY,
        "STACKATLAS_FETCH_README": "false",
        "STACKATLAS_CRAWL_ALL_500": "true",
        "STACKATLAS_LOG_LEVEL": "INFO",
        **extra,
    })
    return env


class Child:
    """A `stackatlas` (or python) child process whose output is read line by line."""

    def __init__(self, args: Sequence[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *args], env=env, cwd=PROJECT_ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, *, count: int = 1, timeout: float = 120.0) -> None:
        """Block until ``text`` appeared in ``count`` lines of output."""
        seen = sum(text in line for line in self.lines)
        deadline = time.monotonic() + timeout
        while seen < count:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None:
                raise AssertionError(f"child ended before {text!r}:\n{self.output[-3000:]}")
            seen += text in line
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output[-3000:]}")

    def wait(self, timeout: float = 120.0) -> int:
        code = self.process.wait(timeout)
        time.sleep(0.05)  # let the reader drain the pipe
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)


def stackatlas(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackatlas", *args], env=env, cwd=PROJECT_ROOT, text=True,
        capture_output=True, timeout=timeout,
    )


def snapshot_of(db: Path) -> dict[str, Any]:
    """What must match between an interrupted-then-resumed run and an uninterrupted one."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "repositories": con.execute(
                f"SELECT {REPO_FIELDS} FROM repositories ORDER BY id").fetchall(),
            "labels": con.execute(
                f"SELECT {LABEL_FIELDS} FROM classifications ORDER BY repo_id, id").fetchall(),
            "observations": con.execute(
                "SELECT run_id, count(*), count(DISTINCT repo_id) FROM observations"
                " GROUP BY run_id ORDER BY run_id").fetchall(),
            "crawl_runs": con.execute(
                "SELECT id, status FROM crawl_runs ORDER BY id").fetchall(),
            "releases": con.execute(
                "SELECT id, data_date FROM releases ORDER BY id").fetchall(),
            "released_labels": con.execute(
                "SELECT release_id, count(*) FROM release_labels GROUP BY ALL ORDER BY 1"
            ).fetchall() if _has_table(con, "release_labels") else [],
        }
    finally:
        con.close()


def job_history(db: Path) -> list[tuple[str, str, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT job, status, error FROM job_runs ORDER BY id").fetchall()
    finally:
        con.close()
    return [(row[0], row[1], row[2]) for row in rows]


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall()
    return bool(rows[0][0])
