"""The run history of the service's jobs: one ``job_runs`` row per scheduled or triggered run.

A run is ``queued`` when it is asked for, ``running`` once it holds the writer, then
``succeeded`` or ``failed`` with its counts or its error. Only one process writes the database
at a time (DuckDB), so when a writer opens it, every row still ``queued`` or ``running`` was left
by a process that died: ``mark_interrupted`` marks them failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import duckdb

from warehouse.db import fetch_dicts

JobName = Literal["discovery", "stars", "readme", "classify", "release"]
JOB_NAMES: tuple[str, ...] = get_args(JobName)

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
INTERRUPTED = "interrupted: the process stopped during the run; the next run resumes its work"

COLUMNS = ("id", "job", "trigger", "parent_id", "queued_at", "started_at", "finished_at",
           "status", "counts", "error")


@dataclass(frozen=True)
class JobRun:
    id: int
    job: str
    trigger: str
    parent_id: int | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    counts: dict[str, Any]
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}


def _job_run(row: dict[str, Any]) -> JobRun:
    counts = row["counts"]
    return JobRun(
        id=row["id"], job=row["job"], trigger=row["trigger"], parent_id=row["parent_id"],
        queued_at=row["queued_at"],
        started_at=row["started_at"], finished_at=row["finished_at"], status=row["status"],
        counts=json.loads(counts) if isinstance(counts, str) else dict(counts or {}),
        error=row["error"],
    )


def queue_run(
    con: duckdb.DuckDBPyConnection,
    job: str,
    trigger: str,
    at: datetime,
    pid: int,
    parent_id: int | None = None,
) -> JobRun:
    rows = fetch_dicts(
        con,
        "INSERT INTO job_runs (job, trigger, parent_id, queued_at, status, pid)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        [job, trigger, parent_id, at, QUEUED, pid],
    )
    return _job_run(rows[0])


def start_run(con: duckdb.DuckDBPyConnection, run_id: int, at: datetime) -> None:
    con.execute(
        "UPDATE job_runs SET status = ?, started_at = ? WHERE id = ?", [RUNNING, at, run_id]
    )


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    status: str,
    at: datetime,
    *,
    counts: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    con.execute(
        "UPDATE job_runs SET status = ?, finished_at = ?, counts = ?, error = ? WHERE id = ?",
        [status, at, json.dumps(dict(counts or {}), default=str), error, run_id],
    )


def mark_interrupted(con: duckdb.DuckDBPyConnection, at: datetime) -> list[int]:
    """Runs left queued or running by a dead process become failed ("interrupted")."""
    rows = con.execute(
        """
        UPDATE job_runs SET status = ?, finished_at = ?, error = ?
        WHERE status IN (?, ?) RETURNING id
        """,
        [FAILED, at, INTERRUPTED, QUEUED, RUNNING],
    ).fetchall()
    return sorted(row[0] for row in rows)


def get_run(con: duckdb.DuckDBPyConnection, run_id: int) -> JobRun | None:
    rows = fetch_dicts(con, "SELECT * FROM job_runs WHERE id = ?", [run_id])
    return _job_run(rows[0]) if rows else None


def list_runs(
    con: duckdb.DuckDBPyConnection,
    *,
    job: str | None = None,
    status: str | None = None,
    parent_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[JobRun]:
    """Runs newest first, optionally of one job, in one status, or following one run."""
    rows = fetch_dicts(
        con,
        """
        SELECT * FROM job_runs
        WHERE ($job IS NULL OR job = $job) AND ($status IS NULL OR status = $status)
          AND ($parent IS NULL OR parent_id = $parent)
        ORDER BY id DESC LIMIT $limit OFFSET $offset
        """,
        {"job": job, "status": status, "parent": parent_id, "limit": limit, "offset": offset},
    )
    return [_job_run(row) for row in rows]


def last_success(con: duckdb.DuckDBPyConnection, job: str | None = None) -> JobRun | None:
    """The newest succeeded run (of ``job``, or of any job)."""
    rows = fetch_dicts(
        con,
        """
        SELECT * FROM job_runs WHERE status = 'succeeded' AND ($job IS NULL OR job = $job)
        ORDER BY finished_at DESC, id DESC LIMIT 1
        """,
        {"job": job},
    )
    return _job_run(rows[0]) if rows else None
