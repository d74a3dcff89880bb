"""INTERIM stand-in for h1's analytics module (issue 9): same names and columns, simple queries.

Replaced wholesale by h1's ``warehouse/analytics.py`` on merge; dashboards only use the names of
the shared interface (monthly_series, shares, movers, data_date).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import duckdb
import polars as pl

from warehouse.db import fetch_dicts, fetch_frame

Level = Literal["layer", "category", "subcategory"]
Basis = Literal["created", "crossed"]
_LEVELS: tuple[Level, ...] = ("layer", "category", "subcategory")


def refresh_analytics(con: duckdb.DuckDBPyConnection) -> None:
    """Nothing is materialised in the stand-in."""


def data_date(con: duckdb.DuckDBPyConnection, release: str | None = None) -> date | None:
    rows = fetch_dicts(con, "SELECT max(observed_at)::DATE AS d FROM observations")
    value = rows[0]["d"] if rows else None
    return value if isinstance(value, date) else None


def monthly_series(
    con: duckdb.DuckDBPyConnection,
    *,
    by: Level = "category",
    basis: Basis = "created",
    cumulative: bool = True,
    start: date | None = None,
    end: date | None = None,
    layers: list[str] | None = None,
    categories: list[str] | None = None,
    include_other: bool = False,
    release: str | None = None,
) -> pl.DataFrame:
    groups = list(_LEVELS[: _LEVELS.index(by) + 1])
    month_expr = (
        "date_trunc('month', created_at)::DATE"
        if basis == "created"
        else "(SELECT date_trunc('month', m.crossed_on)::DATE FROM star_milestones m "
        "WHERE m.repo_id = r.id AND m.crossed_on IS NOT NULL LIMIT 1)"
    )
    where = ["status = 'active'", "category IS NOT NULL"]
    params: dict[str, object] = {}
    if not include_other:
        where.append("category <> 'other'")
    if layers:
        where.append("list_contains($layers, layer)")
        params["layers"] = layers
    if categories:
        where.append("list_contains($categories, category)")
        params["categories"] = categories
    last = data_date(con, release) or date.today()
    params["last"] = last.replace(day=1)
    cols = ", ".join(groups)
    frame = fetch_frame(
        con,
        f"""
        WITH base AS (
            SELECT {month_expr} AS month, {cols} FROM labelled_repositories r
            WHERE {" AND ".join(where)}
        ), counted AS (
            SELECT month, {cols}, count(*)::BIGINT AS new_repos FROM base
            WHERE month IS NOT NULL AND month <= $last GROUP BY ALL
        ), keys AS (SELECT DISTINCT {cols} FROM counted),
        calendar AS (
            SELECT unnest(generate_series((SELECT min(month) FROM counted), $last,
                   INTERVAL 1 MONTH))::DATE AS month
        ), grid AS (
            SELECT c.month, {", ".join("k." + g for g in groups)},
                   coalesce(n.new_repos, 0)::BIGINT AS new_repos
            FROM calendar c CROSS JOIN keys k LEFT JOIN counted n USING (month, {cols})
        )
        SELECT month, {cols}, new_repos,
               (sum(new_repos) OVER (PARTITION BY {cols} ORDER BY month))::BIGINT
                   AS cumulative_repos
        FROM grid ORDER BY month, {cols}
        """,
        params,
    )
    for level in _LEVELS:
        if level not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(level))
    if start is not None:
        frame = frame.filter(pl.col("month") >= start)
    if end is not None:
        frame = frame.filter(pl.col("month") <= end)
    return frame.select("month", "layer", "category", "subcategory", "new_repos",
                        "cumulative_repos")


def shares(
    con: duckdb.DuckDBPyConnection,
    *,
    by: Level = "category",
    basis: Basis = "created",
    release: str | None = None,
) -> pl.DataFrame:
    frame = monthly_series(con, by=by, basis=basis, release=release)
    total = pl.col("cumulative_repos").sum().over("month")
    return frame.with_columns(
        pl.when(total > 0).then(pl.col("cumulative_repos") / total).otherwise(0.0).alias("share")
    )


def movers(
    con: duckdb.DuckDBPyConnection,
    *,
    window_days: int = 30,
    category: str | None = None,
    limit: int = 10,
    release: str | None = None,
) -> pl.DataFrame:
    params: dict[str, object] = {"limit": limit}
    where = "status = 'active' AND category IS NOT NULL"
    if category is not None:
        where += " AND category = $category"
        params["category"] = category
    return fetch_frame(
        con,
        f"""
        WITH obs AS (
            SELECT repo_id, max_by(stars, observed_at) - min_by(stars, observed_at) AS gained
            FROM observations GROUP BY repo_id
        )
        SELECT r.full_name, r.layer, r.category, r.subcategory, r.stars,
               coalesce(o.gained, 0)::BIGINT AS stars_gained
        FROM labelled_repositories r LEFT JOIN obs o ON o.repo_id = r.id
        WHERE {where} ORDER BY stars_gained DESC, r.stars DESC LIMIT $limit
        """,
        params,
    )
