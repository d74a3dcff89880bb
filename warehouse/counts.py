"""Counts computed in DuckDB: the cumulative monthly series and the per-category summary."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from warehouse.db import fetch_frame


def monthly_counts(
    con: duckdb.DuckDBPyConnection,
    *,
    layer: str | None = None,
    category: str | None = None,
    start: date | None = None,
    end: date | None = None,
    include_other: bool = False,
) -> pl.DataFrame:
    """Cumulative repositories per creation month and category, empty months filled with zeros."""
    clauses, params = [], {}
    if layer is not None:
        clauses.append("layer = $layer")
        params["layer"] = layer
    if category is not None:
        clauses.append("category = $category")
        params["category"] = category
    if start is not None:
        clauses.append("month >= $start")
        params["start"] = start
    if end is not None:
        clauses.append("month <= $end")
        params["end"] = end
    if not include_other:
        clauses.append("category <> 'other'")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    query = (
        "SELECT month, layer, category, new_repos, cumulative_repos FROM monthly_counts "
        f"{where} ORDER BY month, layer, category"
    )
    return fetch_frame(con, query, params or None)


def category_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Active repositories per layer and category (unlabelled ones under 'unlabelled')."""
    return fetch_frame(
        con,
        """
        SELECT coalesce(layer, 'unlabelled') AS layer,
               coalesce(category, 'unlabelled') AS category,
               count(*)::BIGINT AS repos
        FROM labelled_repositories WHERE status = 'active'
        GROUP BY ALL ORDER BY layer, repos DESC, category
        """,
    )
