"""How fresh the warehouse is: the one place that says when the last successful run ended.

``/readyz`` and the scheduler read it. Today the crawl runs are the record of work done; when the
job history (``warehouse.jobs``) lands, this is the one function to point at it.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from warehouse.crawls import SUCCEEDED


def last_success_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest successful crawl run finished (UTC, naive), or None when none has."""
    rows = con.execute(
        "SELECT max(finished_at) FROM crawl_runs WHERE status = ?", [SUCCEEDED]
    ).fetchall()
    return rows[0][0] if rows else None


def current_labels_by_method(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Active repositories by the method of the label in force (human, llm, model, rules)."""
    rows = con.execute(
        "SELECT method, count(*)::BIGINT FROM labelled_repositories"
        " WHERE status = 'active' AND method IS NOT NULL GROUP BY method ORDER BY method"
    ).fetchall()
    return {str(method): int(count) for method, count in rows}
