"""Crawl runs and their search slices: what a killed crawl needs to resume where it stopped.

Every page of search results is saved in one transaction together with its slice's progress,
so after a SIGKILL the database holds either the whole page and its progress, or neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from warehouse.db import fetch_dicts, transaction
from warehouse.repos import RepoRecord, record_observations, upsert_repositories

RUNNING = "running"
SUCCEEDED = "succeeded"
PARTIAL = "partial"
"""Finished, but some search slices stayed incomplete: the next run (or --resume) fetches them."""
FAILED = "failed"
INCOMPLETE = "incomplete"
"""Slice status: GitHub kept answering ``incomplete_results`` for one of its pages."""


@dataclass(frozen=True)
class CrawlRun:
    id: int
    started_at: datetime
    status: str
    mode: str
    api_url: str
    query_set: str | None
    requests: int


def _run(row: dict[str, Any]) -> CrawlRun:
    return CrawlRun(
        row["id"], row["started_at"], row["status"], row["mode"], row["api_url"],
        row["query_set"], row["requests"],
    )


def start_run(
    con: duckdb.DuckDBPyConnection, mode: str, api_url: str, query_set: str, started_at: datetime
) -> CrawlRun:
    rows = fetch_dicts(
        con,
        """
        INSERT INTO crawl_runs (started_at, status, mode, api_url, query_set)
        VALUES (?, ?, ?, ?, ?) RETURNING *
        """,
        [started_at, RUNNING, mode, api_url, query_set],
    )
    return _run(rows[0])


def unfinished_run(con: duckdb.DuckDBPyConnection) -> CrawlRun | None:
    """The newest run if it did not succeed (killed, failed, or partial: slices left open)."""
    rows = fetch_dicts(con, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    if not rows or rows[0]["status"] == SUCCEEDED:
        return None
    return _run(rows[0])


def abandon_unfinished(con: duckdb.DuckDBPyConnection, at: datetime) -> None:
    """Runs left 'running' by a killed process become failed when a new run starts instead."""
    con.execute(
        "UPDATE crawl_runs SET status = ?, finished_at = ?, error = 'superseded by a new run'"
        " WHERE status = ?",
        [FAILED, at, RUNNING],
    )


def mark_interrupted(con: duckdb.DuckDBPyConnection, at: datetime) -> list[int]:
    """Runs left 'running' by a process that died become failed; a resume continues them."""
    rows = con.execute(
        "UPDATE crawl_runs SET status = ?, finished_at = ?,"
        " error = 'interrupted: the process stopped during the crawl' WHERE status = ?"
        " RETURNING id",
        [FAILED, at, RUNNING],
    ).fetchall()
    return sorted(row[0] for row in rows)


def mark_running(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    con.execute("UPDATE crawl_runs SET status = ?, error = NULL WHERE id = ?", [RUNNING, run_id])


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    status: str,
    finished_at: datetime,
    error: str | None = None,
) -> None:
    con.execute(
        """
        UPDATE crawl_runs SET status = $status, finished_at = $at, error = $error,
            repos_seen = (SELECT count(*) FROM observations WHERE run_id = $run)
        WHERE id = $run
        """,
        {"status": status, "at": finished_at, "error": error, "run": run_id},
    )


def incomplete_slices(con: duckdb.DuckDBPyConnection, run_id: int) -> list[SliceRow]:
    return [s for s in run_slices(con, run_id) if s.status == INCOMPLETE]


def reopen_incomplete(con: duckdb.DuckDBPyConnection, run_id: int, at: datetime) -> int:
    """Incomplete slices of a resumed run are fetched again from their first page."""
    rows = con.execute(
        """
        UPDATE crawl_slices SET status = 'pending', pages_done = 0, repos_found = 0,
            updated_at = ?
        WHERE run_id = ? AND status = ? RETURNING 1
        """,
        [at, run_id, INCOMPLETE],
    ).fetchall()
    return len(rows)


def add_requests(con: duckdb.DuckDBPyConnection, run_id: int, count: int) -> None:
    if count:
        con.execute(
            "UPDATE crawl_runs SET requests = requests + ? WHERE id = ?", [count, run_id]
        )


# ---------------------------------------------------------------------------------- slices


@dataclass(frozen=True)
class SliceRow:
    """One row of ``crawl_slices``: a query over creation dates ``lo..hi`` and its progress.

    The collector's ``Slice`` extends it with the search logic; the warehouse only stores it.
    """

    query: str
    lo: date
    hi: date
    status: str = "pending"  # pending | done | split | incomplete
    total_count: int | None = None
    pages_done: int = 0
    repos_found: int = 0


def _slice(row: dict[str, Any]) -> SliceRow:
    return SliceRow(
        query=row["query"],
        lo=row["created_from"],
        hi=row["created_to"],
        status=row["status"],
        total_count=row["total_count"],
        pages_done=row["pages_done"],
        repos_found=row["repos_found"],
    )


def run_slices(
    con: duckdb.DuckDBPyConnection, run_id: int, query: str | None = None
) -> list[SliceRow]:
    sql = "SELECT * FROM crawl_slices WHERE run_id = ?"
    params: list[Any] = [run_id]
    if query is not None:
        sql += " AND query = ?"
        params.append(query)
    return [_slice(r) for r in fetch_dicts(con, sql + " ORDER BY query, created_from", params)]


def insert_slices(
    con: duckdb.DuckDBPyConnection, run_id: int, slices: Sequence[SliceRow], at: datetime
) -> None:
    for piece in slices:
        con.execute(
            """
            INSERT INTO crawl_slices (run_id, query, created_from, created_to, status,
                total_count, pages_done, repos_found, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO UPDATE SET status = excluded.status,
                total_count = excluded.total_count, pages_done = excluded.pages_done,
                repos_found = excluded.repos_found, updated_at = excluded.updated_at
            """,
            [run_id, piece.query, piece.lo, piece.hi, piece.status, piece.total_count,
             piece.pages_done, piece.repos_found, at],
        )


def previous_leaves(con: duckdb.DuckDBPyConnection, query: str) -> list[SliceRow]:
    """The finished slices of this query in the newest succeeded run that has any."""
    rows = fetch_dicts(
        con,
        """
        SELECT s.* FROM crawl_slices s
        WHERE s.query = $query AND s.status = 'done' AND s.run_id = (
            SELECT max(r.id) FROM crawl_runs r JOIN crawl_slices x ON x.run_id = r.id
            WHERE r.status = 'succeeded' AND x.query = $query
        )
        ORDER BY s.created_from
        """,
        {"query": query},
    )
    return [_slice(r) for r in rows]


def save_page(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    piece: SliceRow,
    records: Sequence[RepoRecord],
    *,
    seen_at: datetime,
    observed_at: datetime,
    requests: int,
) -> None:
    """One page of results and the slice's new progress, atomically."""
    with transaction(con):
        upsert_repositories(con, records, seen_at)
        record_observations(con, run_id, records, observed_at)
        insert_slices(con, run_id, [piece], observed_at)
        add_requests(con, run_id, requests)


def seen_in_run(con: duckdb.DuckDBPyConnection, run_id: int) -> set[int]:
    rows = con.execute("SELECT repo_id FROM observations WHERE run_id = ?", [run_id]).fetchall()
    return {row[0] for row in rows}


def run_counts(con: duckdb.DuckDBPyConnection, run: CrawlRun) -> dict[str, int]:
    """New, renamed, vanished and below-threshold repositories of a run, from the database."""
    rows = fetch_dicts(
        con,
        """
        SELECT
          (SELECT count(*) FROM repositories WHERE first_seen_at = $start)::BIGINT AS new,
          (SELECT count(DISTINCT n.repo_id) FROM repository_names n
             WHERE n.first_seen_at = $start AND EXISTS (
               SELECT 1 FROM repository_names o
               WHERE o.repo_id = n.repo_id AND o.first_seen_at < $start))::BIGINT AS renamed,
          (SELECT count(*) FROM repositories
             WHERE status = 'vanished' AND updated_at >= $start)::BIGINT AS vanished,
          (SELECT count(*) FROM repositories
             WHERE status = 'below_threshold' AND updated_at >= $start)::BIGINT
             AS below_threshold,
          (SELECT count(*) FROM observations WHERE run_id = $run)::BIGINT AS seen
        """,
        {"start": run.started_at, "run": run.id},
    )
    return {key: int(value) for key, value in rows[0].items()}


def readme_candidates(
    con: duckdb.DuckDBPyConnection, run_id: int
) -> list[tuple[int, str, str | None]]:
    """(id, full_name, etag) of repositories seen in the run whose README may have changed."""
    rows = con.execute(
        """
        SELECT r.id, r.full_name, r.readme_etag FROM repositories r
        JOIN observations o ON o.repo_id = r.id AND o.run_id = ?
        WHERE r.status = 'active' AND (r.readme_checked_at IS NULL
            OR (r.pushed_at IS NOT NULL AND r.pushed_at > r.readme_checked_at))
        ORDER BY r.id
        """,
        [run_id],
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def readmes_checked_before(
    con: duckdb.DuckDBPyConnection, before: datetime
) -> list[tuple[int, str, str | None]]:
    """(id, full_name, etag) of active repositories whose README was last checked before
    ``before`` (or never): the weekly revalidation's work list."""
    rows = con.execute(
        """
        SELECT id, full_name, readme_etag FROM repositories
        WHERE status = 'active' AND (readme_checked_at IS NULL OR readme_checked_at < ?)
        ORDER BY id
        """,
        [before],
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def mark_readme_checked(
    con: duckdb.DuckDBPyConnection, repo_id: int, at: datetime
) -> None:
    con.execute("UPDATE repositories SET readme_checked_at = ? WHERE id = ?", [at, repo_id])


def unseen_active(con: duckdb.DuckDBPyConnection, run_id: int) -> list[tuple[int, str]]:
    """Active repositories the run's searches did not return: vanished, renamed or below."""
    rows = con.execute(
        """
        SELECT id, full_name FROM repositories
        WHERE status = 'active' AND id NOT IN (SELECT repo_id FROM observations WHERE run_id = ?)
        ORDER BY id
        """,
        [run_id],
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def history_candidates(
    con: duckdb.DuckDBPyConnection, run_id: int, threshold: int
) -> list[tuple[int, str, int]]:
    """(id, full_name, stars) of repositories seen in the run with no milestone recorded yet."""
    rows = con.execute(
        """
        SELECT r.id, r.full_name, r.stars FROM repositories r
        JOIN observations o ON o.repo_id = r.id AND o.run_id = $run
        WHERE r.status = 'active' AND r.stars >= $threshold AND NOT EXISTS (
            SELECT 1 FROM star_milestones m WHERE m.repo_id = r.id AND m.threshold = $threshold)
        ORDER BY r.id
        """,
        {"run": run_id, "threshold": threshold},
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def save_milestone(
    con: duckdb.DuckDBPyConnection,
    repo_id: int,
    threshold: int,
    crossed_on: date | None,
    source: str,
    at: datetime,
) -> None:
    con.execute(
        """
        INSERT INTO star_milestones (repo_id, threshold, crossed_on, source, fetched_at)
        VALUES (?, ?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET crossed_on = excluded.crossed_on, source = excluded.source,
            fetched_at = excluded.fetched_at
        """,
        [repo_id, threshold, crossed_on, source, at],
    )
