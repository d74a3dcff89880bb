"""Repositories and their observations: idempotent upserts keyed by GitHub's numeric id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from warehouse.db import fetch_dicts

ACTIVE = "active"
BELOW_THRESHOLD = "below_threshold"
VANISHED = "vanished"


@dataclass
class RepoRecord:
    """What the collector knows of one repository: the unit it saves."""

    id: int
    full_name: str
    description: str | None = None
    language: str | None = None
    license: str | None = None
    topics: list[str] = field(default_factory=list)
    homepage: str | None = None
    created_at: datetime | None = None
    pushed_at: datetime | None = None
    archived: bool = False
    stars: int = 0
    forks: int | None = None

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]


_RECORD_COLUMNS = [f.name for f in fields(RepoRecord)]
_FRAME_SCHEMA: dict[str, Any] = {
    "id": pl.Int64,
    "full_name": pl.String,
    "owner": pl.String,
    "name": pl.String,
    "description": pl.String,
    "language": pl.String,
    "license": pl.String,
    "topics": pl.List(pl.String),
    "homepage": pl.String,
    "created_at": pl.Datetime("us"),
    "pushed_at": pl.Datetime("us"),
    "archived": pl.Boolean,
    "stars": pl.Int32,
    "forks": pl.Int32,
}


# A fingerprint of the text a classifier reads; a change of it calls for a new label.
TEXT_HASH_SQL = """left(sha256(concat_ws(chr(31), coalesce(description, ''),
    coalesce(array_to_string(list_sort(topics), ','), ''), coalesce(readme_excerpt, ''))), 16)"""


def _frame(records: Sequence[RepoRecord]) -> pl.DataFrame:
    rows = []
    for record in records:
        row = asdict(record)
        row["owner"], row["name"] = record.owner, record.name
        rows.append(row)
    return pl.DataFrame(rows, schema=_FRAME_SCHEMA)


def upsert_repositories(
    con: duckdb.DuckDBPyConnection, records: Sequence[RepoRecord], seen_at: datetime
) -> int:
    """Insert new repositories and update known ones in place (a rename updates the row).

    Safe to repeat: the same records give the same rows. Returns the number of records.
    """
    if not records:
        return 0
    frame = _frame(_dedupe(records))
    con.execute(
        """
        INSERT INTO repositories (id, full_name, owner, name, description, language, license,
            topics, homepage, created_at, pushed_at, archived, stars, forks, text_hash, status,
            first_seen_at, last_seen_at, updated_at)
        SELECT id, full_name, owner, name, description, language, license, topics, homepage,
            created_at, pushed_at, archived, stars, forks, NULL, 'active', $seen, $seen, $seen
        FROM frame
        ON CONFLICT (id) DO UPDATE SET
            full_name = excluded.full_name, owner = excluded.owner, name = excluded.name,
            description = excluded.description, language = excluded.language,
            license = excluded.license, topics = excluded.topics, homepage = excluded.homepage,
            created_at = excluded.created_at, pushed_at = excluded.pushed_at,
            archived = excluded.archived, stars = excluded.stars, forks = excluded.forks,
            status = 'active', last_seen_at = excluded.last_seen_at,
            updated_at = excluded.updated_at
        """,
        {"seen": seen_at},
    )
    con.execute(
        """
        INSERT INTO repository_names (repo_id, full_name, first_seen_at)
        SELECT id, full_name, $seen FROM frame
        ON CONFLICT DO NOTHING
        """,
        {"seen": seen_at},
    )
    refresh_text_hashes(con, frame["id"].to_list())
    return frame.height


def _dedupe(records: Sequence[RepoRecord]) -> list[RepoRecord]:
    """Keep the last record per id: search pages can repeat a repository while results shift."""
    return list({record.id: record for record in records}.values())


def refresh_text_hashes(
    con: duckdb.DuckDBPyConnection, repo_ids: Sequence[int] | None = None
) -> None:
    """Recompute the text fingerprint of the given repositories (all when None)."""
    query = f"UPDATE repositories SET text_hash = {TEXT_HASH_SQL}"
    if repo_ids is None:
        con.execute(query)
        return
    ids = pl.DataFrame({"id": list(repo_ids)}, schema={"id": pl.Int64})  # noqa: F841
    con.execute(f"{query} WHERE id IN (SELECT id FROM ids)")


def record_observations(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    records: Sequence[RepoRecord],
    observed_at: datetime,
) -> None:
    """One observation (stars, forks) per repository per crawl run; repeats overwrite."""
    if not records:
        return
    frame = pl.DataFrame(  # noqa: F841 - scanned by DuckDB below
        [(r.id, r.stars, r.forks) for r in _dedupe(records)],
        schema={"repo_id": pl.Int64, "stars": pl.Int32, "forks": pl.Int32},
        orient="row",
    )
    con.execute(
        """
        INSERT INTO observations (run_id, repo_id, observed_at, stars, forks)
        SELECT $run, repo_id, $at, stars, forks FROM frame
        ON CONFLICT (run_id, repo_id) DO UPDATE SET
            observed_at = excluded.observed_at, stars = excluded.stars, forks = excluded.forks
        """,
        {"run": run_id, "at": observed_at},
    )


def save_readme(
    con: duckdb.DuckDBPyConnection, repo_id: int, excerpt: str | None, etag: str | None
) -> None:
    con.execute(
        "UPDATE repositories SET readme_excerpt = ?, readme_etag = ? WHERE id = ?",
        [excerpt, etag, repo_id],
    )
    refresh_text_hashes(con, [repo_id])


def set_status(
    con: duckdb.DuckDBPyConnection, repo_ids: Sequence[int], status: str, at: datetime
) -> None:
    """Mark repositories (vanished, below threshold, active again); rows are never deleted."""
    for repo_id in repo_ids:
        con.execute(
            "UPDATE repositories SET status = ?, updated_at = ? WHERE id = ?",
            [status, at, repo_id],
        )


def repository_ids(con: duckdb.DuckDBPyConnection, status: str | None = ACTIVE) -> set[int]:
    query = "SELECT id FROM repositories"
    params: list[Any] = []
    if status is not None:
        query += " WHERE status = ?"
        params.append(status)
    return {row[0] for row in con.execute(query, params).fetchall()}


def find_repository(con: duckdb.DuckDBPyConnection, full_name: str) -> dict[str, Any] | None:
    """The labelled repository with this name, also found by a former name."""
    rows = fetch_dicts(
        con,
        """
        SELECT * FROM labelled_repositories
        WHERE lower(full_name) = lower($name)
           OR id IN (SELECT repo_id FROM repository_names WHERE lower(full_name) = lower($name))
        ORDER BY lower(full_name) = lower($name) DESC
        LIMIT 1
        """,
        {"name": full_name},
    )
    return rows[0] if rows else None
