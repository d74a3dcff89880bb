"""A crawl killed with SIGKILL resumes without refetching finished slices or losing rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from standins.github import FaultConfig, RateLimitConfig, ReplayServer, Snapshot
from standins.sample import generate_population
from tests.test_crawl import FAST_LIMITS, TOKEN, crawl
from warehouse.db import connect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIELDS = (
    "id, full_name, owner, name, description, language, license, topics, homepage, created_at,"
    " pushed_at, archived, stars, forks, status, text_hash"
)
CHILD = textwrap.dedent(
    """
    import logging, sys
    from collector.crawl import run_crawl
    from stackatlas.settings import Settings
    from warehouse.db import connect

    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    con = connect(sys.argv[2])
    run_crawl(con, Settings(), api_url=sys.argv[1], all_500=True, readme=False,
              progress=False, reset_margin=0.05)
    """
)


def _kill_after_pages(url: str, db: Path, pages: int) -> int:
    env = {**os.environ, "GITHUB_TOKEN": TOKEN, "PYTHONPATH": str(PROJECT_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=PROJECT_ROOT,
    )
    saved = 0
    output: list[str] = []
    assert child.stdout is not None
    for line in child.stdout:
        output.append(line)
        if line.startswith("saved page"):
            saved += 1
            if saved >= pages:
                child.send_signal(signal.SIGKILL)
                break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "".join(output)[-2000:]
    assert TOKEN not in "".join(output)
    return saved


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_crawl(tmp_path: Path) -> None:
    snapshot = Snapshot(generate_population(3000, 12))
    slow = FaultConfig(latency=0.01)
    killed_db, whole_db = tmp_path / "killed.duckdb", tmp_path / "whole.duckdb"

    with ReplayServer(snapshot, rate_limits=FAST_LIMITS, faults=slow) as server:
        saved = _kill_after_pages(server.url, killed_db, pages=12)
        before_resume = server.stats.requests["search"]
        con = connect(killed_db)
        resumed = crawl(con, server.url, resume=True)
        resumed_requests = server.stats.requests["search"] - before_resume

    with ReplayServer(snapshot, rate_limits=FAST_LIMITS) as server:
        whole_con = connect(whole_db)
        whole = crawl(whole_con, server.url)
        whole_requests = server.stats.requests["search"]

    assert resumed.resumed and resumed.run_id == 1
    query = f"SELECT {FIELDS} FROM repositories ORDER BY id"
    assert con.execute(query).fetchall() == whole_con.execute(query).fetchall()
    assert len(con.execute(query).fetchall()) == len(snapshot)
    observed = "SELECT count(*), count(DISTINCT repo_id) FROM observations WHERE run_id = 1"
    assert con.execute(observed).fetchall() == [(len(snapshot), len(snapshot))]
    # Finished pages were not fetched again: at most the page in flight at the kill.
    assert resumed_requests <= whole_requests - saved + 1
    runs = con.execute("SELECT status, requests FROM crawl_runs").fetchall()
    assert runs[0][0] == "succeeded" and len(runs) == 1
    assert whole.repos_seen == resumed.repos_seen
    con.close()
    whole_con.close()


def test_resume_without_an_unfinished_run_starts_a_new_one(tmp_path: Path) -> None:
    snapshot = Snapshot(generate_population(200, 13))
    with ReplayServer(snapshot, rate_limits=RateLimitConfig(search_window=1.0)) as server:
        con = connect(tmp_path / "w.duckdb")
        first = crawl(con, server.url, resume=True)
        second = crawl(con, server.url, resume=True)
    assert not first.resumed and not second.resumed
    assert (first.run_id, second.run_id) == (1, 2)
    con.close()
