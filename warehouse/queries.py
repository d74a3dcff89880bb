"""Read queries the API and the dashboards serve: repository search, observations, data version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import duckdb

from warehouse.db import fetch_dicts

SortKey = Literal["stars", "created", "name"]

_SORT_COLUMNS: dict[str, str] = {
    "stars": "stars",
    "created": "created_at",
    "name": "lower(full_name)",
}


@dataclass(frozen=True)
class RepoFilter:
    """Filters of a repository search; ``None`` means "any"."""

    layer: str | None = None
    category: str | None = None
    text: str | None = None
    min_stars: int | None = None
    status: str | None = "active"
    language: str | None = None


def _where(filters: RepoFilter) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if filters.layer is not None:
        clauses.append("layer = $layer")
        params["layer"] = filters.layer
    if filters.category is not None:
        clauses.append("category = $category")
        params["category"] = filters.category
    if filters.text:
        # contains() rather than LIKE: the user's text may hold % or _.
        clauses.append(
            "(contains(lower(full_name), lower($text))"
            " OR contains(lower(coalesce(description, '')), lower($text)))"
        )
        params["text"] = filters.text
    if filters.min_stars is not None:
        clauses.append("stars >= $min_stars")
        params["min_stars"] = filters.min_stars
    if filters.status is not None:
        clauses.append("status = $status")
        params["status"] = filters.status
    if filters.language is not None:
        clauses.append("lower(language) = lower($language)")
        params["language"] = filters.language
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _order_by(sort: SortKey, descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    return f"ORDER BY {_SORT_COLUMNS[sort]} {direction} NULLS LAST, id ASC"


def count_repositories(con: duckdb.DuckDBPyConnection, filters: RepoFilter) -> int:
    where, params = _where(filters)
    rows = fetch_dicts(
        con, f"SELECT count(*)::BIGINT AS n FROM labelled_repositories {where}", params or None
    )
    return int(rows[0]["n"])


def search_repositories(
    con: duckdb.DuckDBPyConnection,
    filters: RepoFilter,
    *,
    sort: SortKey = "stars",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """One page of ``labelled_repositories`` rows matching ``filters``."""
    where, params = _where(filters)
    query = (
        "SELECT id, full_name, description, stars, forks, language, topics, created_at, status,"
        " layer, category, subcategory, confidence, method"
        f" FROM labelled_repositories {where} {_order_by(sort, descending)}"
        " LIMIT $limit OFFSET $offset"
    )
    return fetch_dicts(con, query, {**params, "limit": limit, "offset": offset})


def latest_observations(
    con: duckdb.DuckDBPyConnection, repo_id: int, limit: int = 30
) -> list[dict[str, Any]]:
    """The newest star/fork observations of one repository, newest first."""
    return fetch_dicts(
        con,
        """
        SELECT run_id, observed_at, stars, forks FROM observations
        WHERE repo_id = ? ORDER BY observed_at DESC, run_id DESC LIMIT ?
        """,
        [repo_id, limit],
    )


def known_names(con: duckdb.DuckDBPyConnection, repo_id: int) -> list[str]:
    """Every name the repository has had, oldest first."""
    rows = fetch_dicts(
        con,
        "SELECT full_name FROM repository_names WHERE repo_id = ?"
        " ORDER BY first_seen_at, full_name",
        [repo_id],
    )
    return [str(row["full_name"]) for row in rows]


def database_location(con: duckdb.DuckDBPyConnection) -> str:
    """The file behind the connection, or ``:memory:``."""
    rows = fetch_dicts(
        con,
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()",
    )
    path = rows[0]["path"] if rows else None
    return str(path) if path else ":memory:"


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    rows = fetch_dicts(con, "SELECT coalesce(max(version), 0) AS v FROM schema_migrations")
    return int(rows[0]["v"])


def repository_count(con: duckdb.DuckDBPyConnection, status: str | None = None) -> int:
    return count_repositories(con, RepoFilter(status=status))


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """Changes whenever labels, repositories or their status change: a cache key for renders."""
    rows = fetch_dicts(
        con,
        """
        SELECT (SELECT coalesce(max(id), 0) FROM classifications) AS last_label,
               (SELECT count(*) FROM classifications) AS labels,
               (SELECT count(*) FROM repositories) AS repos,
               (SELECT max(updated_at) FROM repositories) AS last_update
        """,
    )
    row = rows[0]
    return (row["last_label"], row["labels"], row["repos"], row["last_update"])
