"""Reads for the writers' report that no other module answers: the biggest new repositories."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from warehouse.db import fetch_frame
from warehouse.releases import frozen_source


def new_repositories(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date | None,
    end: date | None,
    limit: int = 10,
    release: str | None = None,
) -> pl.DataFrame:
    """The most-starred AI repositories created in [start, end] (months), with their labels as
    of the release; stars are the newest observation of the repository."""
    labels, params = frozen_source(con, "labels", release)
    clauses = ["l.category <> 'other'", "r.created_at IS NOT NULL"]
    if start is not None:
        clauses.append("r.created_at >= $start")
        params["start"] = start.replace(day=1)
    if end is not None:
        clauses.append("date_trunc('month', r.created_at) <= $end")
        params["end"] = end.replace(day=1)
    params["limit"] = limit
    return fetch_frame(
        con,
        f"""
        SELECT l.full_name, l.layer, l.category, l.subcategory,
               strftime(r.created_at, '%Y-%m-%d') AS created, r.stars::BIGINT AS stars
        FROM {labels} l JOIN repositories r ON r.id = l.repo_id
        WHERE {" AND ".join(clauses)}
        ORDER BY r.stars DESC, l.full_name LIMIT $limit
        """,
        params,
    )
