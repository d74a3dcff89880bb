"""Estimated true counts per creation month and category, with their 90% interval.

``classifier/quantify.py`` computes them after each classification run; they are kept one set per
model version (a later computation for the same version replaces it); a release freezes the
newest set (``warehouse.releases.FROZEN``). The labelled counts stay beside them: an estimate
corrects the classifier's known confusions, a labelled count is what the labels say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl

from warehouse.db import fetch_dicts, fetch_frame
from warehouse.releases import frozen_source

VALUE_COLUMNS = (
    "estimate", "lo", "hi", "cumulative_estimate", "cumulative_lo", "cumulative_hi",
)  # fmt: skip
KEY_COLUMNS = ("model_version", "month", "layer", "category")
STORED_COLUMNS = (*KEY_COLUMNS, *VALUE_COLUMNS, "method", "computed_at")
_SCHEMA: dict[str, Any] = {
    "model_version": pl.String, "month": pl.Date, "layer": pl.String, "category": pl.String,
    **dict.fromkeys(VALUE_COLUMNS, pl.Float64), "method": pl.String,
    "computed_at": pl.Datetime("us"),
}  # fmt: skip


@dataclass(frozen=True)
class EstimateRun:
    """One computation of the estimates: for which model, how, and on what evidence."""

    model_version: str
    method: str
    computed_at: datetime
    repos: int
    human_confirmed: int
    validation_rows: int
    interval_level: float
    replicates: int


def save_estimates(con: duckdb.DuckDBPyConnection, run: EstimateRun,
                   rows: pl.DataFrame) -> int:
    """Store ``rows`` (month, layer, category and the value columns) as the estimates of
    ``run.model_version``, replacing an earlier set of that version, in one transaction."""
    frame = rows.with_columns(  # noqa: F841 (read by DuckDB below)
        pl.lit(run.model_version).alias("model_version"), pl.lit(run.method).alias("method"),
        pl.lit(run.computed_at).alias("computed_at"),
    ).select(STORED_COLUMNS).cast(_SCHEMA)
    columns = ", ".join(STORED_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM count_estimates WHERE model_version = ?", [run.model_version])
        con.execute("DELETE FROM count_estimate_runs WHERE model_version = ?",
                    [run.model_version])
        con.execute(f"INSERT INTO count_estimates ({columns}) SELECT {columns} FROM frame")
        values = asdict(run)
        con.execute(
            f"INSERT INTO count_estimate_runs ({', '.join(values)}) "
            f"VALUES ({', '.join('?' * len(values))})",
            list(values.values()),
        )
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return rows.height


def latest_run(con: duckdb.DuckDBPyConnection) -> EstimateRun | None:
    """The newest computation of the estimates, None before the first."""
    rows = fetch_dicts(con, "SELECT * FROM count_estimate_runs ORDER BY computed_at DESC LIMIT 1")
    return EstimateRun(**rows[0]) if rows else None  # type: ignore[arg-type]


def estimate_run(con: duckdb.DuckDBPyConnection, model_version: str) -> EstimateRun | None:
    rows = fetch_dicts(con, "SELECT * FROM count_estimate_runs WHERE model_version = ?",
                       [model_version])
    return EstimateRun(**rows[0]) if rows else None  # type: ignore[arg-type]


def monthly_estimates(
    con: duckdb.DuckDBPyConnection,
    *,
    release: str | int | None = None,
    model_version: str | None = None,
    cumulative: bool = True,
    layer: str | None = None,
    category: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """Estimated counts per month and category: columns month, layer, category, estimate, lo,
    hi, method, model_version, computed_at.

    ``cumulative``: estimate/lo/hi are running totals (else the month's new repositories).
    ``release``: the set frozen into that release; None: the newest set (or ``model_version``'s).
    Empty when nothing was estimated yet.
    """
    prefix = "cumulative_" if cumulative else ""
    clauses, params = _filters(layer=layer, category=category, start=start, end=end)
    if release is not None:
        table = "release_count_estimates"
        clauses.append("release_id = $release")
        params["release"] = str(release)
    else:
        table = "count_estimates"
        clauses.append("model_version = $version")
        params["version"] = model_version or _newest_version(con) or ""
    query = f"""
        SELECT month, layer, category, {prefix}estimate AS estimate, {prefix}lo AS lo,
               {prefix}hi AS hi, method, model_version, computed_at
        FROM {table} WHERE {" AND ".join(clauses)} ORDER BY month, layer, category
    """
    return fetch_frame(con, query, params)


def _filters(**values: object) -> tuple[list[str], dict[str, object]]:
    operators = {"layer": "=", "category": "=", "start": ">=", "end": "<="}
    columns = {"start": "month", "end": "month"}
    clauses, params = [], {}
    for name, value in values.items():
        if value is not None:
            clauses.append(f"{columns.get(name, name)} {operators[name]} ${name}")
            params[name] = value
    return clauses, params


def _newest_version(con: duckdb.DuckDBPyConnection) -> str | None:
    run = latest_run(con)
    return run.model_version if run else None


@dataclass(frozen=True)
class ServedEstimates:
    """Which set of estimates a release (or the live warehouse) serves, as a caption states it."""

    model_version: str
    method: str
    computed_at: datetime
    interval_level: float | None  # None: that model version's run record is gone


def served_estimates(con: duckdb.DuckDBPyConnection,
                     release: str | None = None) -> ServedEstimates | None:
    """The set ``monthly_estimates(release=release)`` reads; None when it holds no estimates."""
    if release is None:
        run = latest_run(con)
        return None if run is None else ServedEstimates(
            run.model_version, run.method, run.computed_at, run.interval_level)
    rows = fetch_dicts(con, """
        SELECT model_version, any_value(method) AS method, max(computed_at) AS computed_at
        FROM release_count_estimates WHERE release_id = $release
        GROUP BY model_version ORDER BY computed_at DESC LIMIT 1
    """, {"release": str(release)})  # fmt: skip
    if not rows:
        return None
    # The frozen rows carry no interval level; the version's run record does (one per version).
    run = estimate_run(con, str(rows[0]["model_version"]))
    return ServedEstimates(str(rows[0]["model_version"]), str(rows[0]["method"]),
                           rows[0]["computed_at"],  # type: ignore[arg-type]
                           run.interval_level if run else None)


def labels_in_force(con: duckdb.DuckDBPyConnection, release: str | None = None) -> int:
    """Active repositories with a label, now or in the labels frozen into ``release``: the
    ``M`` of "N of M labels human-confirmed"."""
    if release is None:
        query, params = (
            "SELECT count(*) FROM labelled_repositories "
            "WHERE status = 'active' AND category IS NOT NULL", {}
        )
    else:
        source, params = frozen_source(con, "labels", release)
        query = f"SELECT count(*) FROM {source} WHERE category IS NOT NULL"
    return int(con.execute(query, params).fetchall()[0][0])


def human_confirmed(con: duckdb.DuckDBPyConnection, release: str | None = None) -> int:
    """Active repositories whose label in force was given (or confirmed) by a person: now, or in
    the labels frozen into ``release``."""
    if release is None:
        query, params = (
            "SELECT count(*) FROM labelled_repositories "
            "WHERE status = 'active' AND method = 'human'", []
        )
    else:
        source, named = frozen_source(con, "labels", release)
        query, params = f"SELECT count(*) FROM {source} WHERE method = 'human'", named
    rows = con.execute(query, params).fetchall()
    return int(rows[0][0])


_PROBABILITY_SCHEMA: dict[str, Any] = {
    "repo_id": pl.Int64, "model_version": pl.String, "categories": pl.List(pl.String),
    "probabilities": pl.List(pl.Float64), "review_score": pl.Float64,
    "review_rank": pl.Int64, "computed_at": pl.Datetime("us"),
}  # fmt: skip


def save_probabilities(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> int:
    """Replace every stored per-repository probability row by ``rows`` (repo_id, model_version,
    categories, probabilities, review_score, review_rank, computed_at)."""
    frame = rows.select(list(_PROBABILITY_SCHEMA)).cast(_PROBABILITY_SCHEMA)  # noqa: F841
    columns = ", ".join(_PROBABILITY_SCHEMA)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM repo_probabilities")
        con.execute(f"INSERT INTO repo_probabilities ({columns}) SELECT {columns} FROM frame")
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    return rows.height


_QUEUE = """
    SELECT r.id AS repo_id, r.full_name, r.description, r.language, r.topics, r.stars,
           r.created_at, r.category, r.layer, r.subcategory, r.confidence, r.method,
           r.rationale, r.model_version, p.categories, p.probabilities, p.review_score
    FROM repo_probabilities p JOIN labelled_repositories r ON r.id = p.repo_id
    WHERE r.status = 'active' AND r.method IS DISTINCT FROM 'human' {extra}
    ORDER BY p.review_rank NULLS LAST, p.review_score DESC, r.stars DESC NULLS LAST, r.id
"""


def review_queue(con: duckdb.DuckDBPyConnection, *, limit: int = 50, offset: int = 0,
                 category: str | None = None) -> list[dict[str, Any]]:
    """Repositories without a human label in the queue's stored order (``review_rank``; rows
    stored before it existed by review score), with their current label and their probability
    of each category."""
    extra, params = ("AND r.category = $category", {"category": category}) if category else (
        "", {})
    query = _QUEUE.format(extra=extra) + " LIMIT $limit OFFSET $offset"
    return fetch_dicts(con, query, {**params, "limit": limit, "offset": offset})


def review_queue_size(con: duckdb.DuckDBPyConnection, category: str | None = None) -> int:
    extra, params = ("AND r.category = $category", {"category": category}) if category else (
        "", {})
    query = f"SELECT count(*) FROM ({_QUEUE.format(extra=extra)})"
    rows = (con.execute(query, params) if params else con.execute(query)).fetchall()
    return int(rows[0][0])
