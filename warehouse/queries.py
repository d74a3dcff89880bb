"""Read queries the API and the dashboards serve: repository search, observations, data version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import duckdb

from warehouse.db import fetch_dicts

SortKey = Literal["stars", "forks", "created", "pushed", "name", "id"]

# Sort key → the expression it orders by (ties broken by id, so that a cursor is exact).
SORT_EXPRESSIONS: dict[str, str] = {
    "stars": "r.stars",
    "forks": "r.forks",
    "created": "r.created_at",
    "pushed": "r.pushed_at",
    "name": "lower(r.full_name)",
    "id": "r.id",
}

# Facet name → the column counted; every facet is a filter too.
FACET_EXPRESSIONS: dict[str, str] = {
    "layer": "l.layer",
    "category": "l.category",
    "subcategory": "l.subcategory",
    "language": "r.language",
    "status": "r.status",
    "archived": "r.archived",
    "method": "l.method",
}

# A repository with its current label; ``current_labels`` is a table kept on every label write.
_FROM = "repositories r LEFT JOIN current_labels l ON l.repo_id = r.id"

PAGE_COLUMNS = (
    "r.id, r.full_name, r.description, r.stars, r.forks, r.language, r.license, r.topics,"
    " r.homepage, r.created_at, r.pushed_at, r.archived, r.status,"
    " l.layer, l.category, l.subcategory, l.confidence, l.method"
)


@dataclass(frozen=True)
class RepoFilter:
    """Filters of a repository search; an empty tuple or ``None`` means "any".

    Values inside one filter are alternatives (OR); filters combine with AND.
    """

    layers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subcategories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # compared without case
    statuses: tuple[str, ...] = ("active",)
    text: str | None = None
    min_stars: int | None = None
    max_stars: int | None = None
    created_from: date | None = None  # first day, inclusive
    created_to: date | None = None  # last day, inclusive
    archived: bool | None = None


@dataclass(frozen=True)
class Keyset:
    """Where the previous page stopped: its last row's sort value and id."""

    value: Any
    id: int


class _Where:
    """Builds a WHERE clause with named parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def any_of(self, expression: str, name: str, values: tuple[Any, ...]) -> None:
        if not values:
            return
        names = [f"{name}{i}" for i in range(len(values))]
        placeholders = ", ".join(f"${n}" for n in names)
        self.add(f"{expression} IN ({placeholders})", **dict(zip(names, values, strict=True)))

    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def _where(filters: RepoFilter) -> _Where:
    where = _Where()
    where.any_of("l.layer", "layer", filters.layers)
    where.any_of("l.category", "category", filters.categories)
    where.any_of("l.subcategory", "subcategory", filters.subcategories)
    where.any_of("lower(r.language)", "language", tuple(v.lower() for v in filters.languages))
    where.any_of("r.status", "status", filters.statuses)
    if filters.text:
        # contains() rather than LIKE: the user's text may hold % or _.
        where.add(
            "(contains(lower(r.full_name), lower($text))"
            " OR contains(lower(coalesce(r.description, '')), lower($text)))",
            text=filters.text,
        )
    if filters.min_stars is not None:
        where.add("r.stars >= $min_stars", min_stars=filters.min_stars)
    if filters.max_stars is not None:
        where.add("r.stars <= $max_stars", max_stars=filters.max_stars)
    if filters.created_from is not None:
        where.add("r.created_at >= $created_from", created_from=filters.created_from)
    if filters.created_to is not None:
        where.add(
            "r.created_at < $created_to + INTERVAL 1 DAY", created_to=filters.created_to
        )
    if filters.archived is not None:
        where.add("coalesce(r.archived, false) = $archived", archived=filters.archived)
    return where


def _after(where: _Where, sort: SortKey, descending: bool, keyset: Keyset) -> None:
    """Rows after ``keyset`` in ``ORDER BY <sort> [DESC] NULLS LAST, id``."""
    expression = SORT_EXPRESSIONS[sort]
    if keyset.value is None:
        where.add(f"({expression} IS NULL AND r.id > $after_id)", after_id=keyset.id)
        return
    beyond = "<" if descending else ">"
    where.add(
        f"({expression} {beyond} $after_value"
        f" OR ({expression} = $after_value AND r.id > $after_id)"
        f" OR {expression} IS NULL)",
        after_value=keyset.value,
        after_id=keyset.id,
    )


def _order_by(sort: SortKey, descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    return f"ORDER BY {SORT_EXPRESSIONS[sort]} {direction} NULLS LAST, r.id ASC"


def sort_value(row: dict[str, Any], sort: SortKey) -> Any:
    """The value ``sort`` orders ``row`` by (what a cursor after this row holds)."""
    column = {"created": "created_at", "pushed": "pushed_at", "name": "full_name"}.get(sort, sort)
    value = row[column]
    return value.lower() if sort == "name" and value is not None else value


def count_repositories(con: duckdb.DuckDBPyConnection, filters: RepoFilter) -> int:
    where = _where(filters)
    rows = fetch_dicts(
        con, f"SELECT count(*)::BIGINT AS n FROM {_FROM} {where.sql()}", where.params or None
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
    after: Keyset | None = None,
) -> list[dict[str, Any]]:
    """One page of repositories (with their current label) matching ``filters``.

    ``after`` continues from the last row of the previous page (keyset pagination: a page costs
    the same however deep it is, and rows added meanwhile neither repeat nor vanish).
    """
    where = _where(filters)
    if after is not None:
        _after(where, sort, descending, after)
    order_by = _order_by(sort, descending)
    # Rank on the narrow columns first, then read the wide ones of the page's rows only.
    query = f"""
        WITH page AS (
            SELECT r.id FROM {_FROM} {where.sql()} {order_by} LIMIT $limit OFFSET $offset
        )
        SELECT {PAGE_COLUMNS} FROM page JOIN {_FROM} ON r.id = page.id {order_by}
    """
    return fetch_dicts(con, query, {**where.params, "limit": limit, "offset": offset})


def facet_counts(
    con: duckdb.DuckDBPyConnection, filters: RepoFilter, facet: str, limit: int = 30
) -> list[dict[str, Any]]:
    """Repositories per value of ``facet`` under ``filters``, most frequent first (``limit`` + 1
    rows at most, so the caller can tell that more values exist)."""
    expression = FACET_EXPRESSIONS[facet]
    where = _where(filters)
    query = (
        f"SELECT {expression} AS value, count(*)::BIGINT AS count FROM {_FROM} {where.sql()}"
        " GROUP BY 1 ORDER BY count DESC, value NULLS LAST LIMIT $facet_limit"
    )
    return fetch_dicts(con, query, {**where.params, "facet_limit": limit + 1})


def star_series(con: duckdb.DuckDBPyConnection, repo_id: int) -> list[dict[str, Any]]:
    """Stars at the last observation of each month, oldest month first."""
    return fetch_dicts(
        con,
        """
        SELECT strftime(date_trunc('month', observed_at), '%Y-%m') AS month,
               arg_max(stars, observed_at) AS stars
        FROM observations WHERE repo_id = ?
        GROUP BY 1 ORDER BY 1
        """,
        [repo_id],
    )


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
    return count_repositories(con, RepoFilter(statuses=() if status is None else (status,)))


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
