"""Classifications: every label ever given, and the one in force (human > llm > model > rules)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from stackatlas import metrics
from warehouse.db import fetch_dicts
from warehouse.schema import CURRENT_LABEL_COLUMNS

METHODS = ("human", "llm", "model", "rules")

# Two cursors replacing the same ``current_labels`` row at once conflict in DuckDB (optimistic
# concurrency): label writes of one process go one at a time.
_LABEL_WRITES = threading.Lock()
_IN_FORCE = "labels_as_of(TIMESTAMP '9999-12-31')"


@dataclass
class LabelRecord:
    repo_id: int
    layer: str
    category: str
    method: str
    taxonomy_version: str
    created_at: datetime
    subcategory: str | None = None
    confidence: float | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    rationale: str | None = None
    note: str | None = None
    text_hash: str | None = None
    flags: str | None = None


_LABEL_SCHEMA: dict[str, Any] = {
    "repo_id": pl.Int64,
    "layer": pl.String,
    "category": pl.String,
    "method": pl.String,
    "taxonomy_version": pl.String,
    "created_at": pl.Datetime("us"),
    "subcategory": pl.String,
    "confidence": pl.Float64,
    "model_version": pl.String,
    "prompt_version": pl.String,
    "rationale": pl.String,
    "note": pl.String,
    "text_hash": pl.String,
    "flags": pl.String,
}


def insert_labels(con: duckdb.DuckDBPyConnection, labels: Sequence[LabelRecord]) -> int:
    """Append labels to the history; nothing is ever overwritten."""
    for label in labels:
        if label.method not in METHODS:
            raise ValueError(f"unknown label method {label.method!r}; expected one of {METHODS}")
    if not labels:
        return 0
    frame = pl.DataFrame([asdict(label) for label in labels], schema=_LABEL_SCHEMA)
    columns = ", ".join(_LABEL_SCHEMA)
    with _LABEL_WRITES:
        con.execute(f"INSERT INTO classifications ({columns}) SELECT {columns} FROM frame")
        refresh_current_labels(con, frame["repo_id"].unique().to_list())
    for method in METHODS:
        metrics.count_labels(method, sum(label.method == method for label in labels))
    return len(labels)


def refresh_current_labels(
    con: duckdb.DuckDBPyConnection, repo_ids: Sequence[int] | None = None
) -> None:
    """Re-derive the ``current_labels`` rows of ``repo_ids`` (every repository when None).

    ``insert_labels`` calls it; code that writes ``classifications`` by other means (a bulk
    loader) calls it once afterwards. One statement, so that a concurrent reader never sees a
    repository unlabelled; labels are never deleted, so replacing rows is enough.
    """
    columns = ", ".join(CURRENT_LABEL_COLUMNS)
    query = f"INSERT OR REPLACE INTO current_labels SELECT {columns} FROM {_IN_FORCE}"
    if repo_ids is None:
        con.execute(query)
        return
    ids = pl.DataFrame({"repo_id": list(repo_ids)}, schema={"repo_id": pl.Int64})  # noqa: F841
    con.execute(f"{query} WHERE repo_id IN (SELECT repo_id FROM ids)")


def current_label(con: duckdb.DuckDBPyConnection, repo_id: int) -> dict[str, Any] | None:
    rows = fetch_dicts(con, "SELECT * FROM current_labels WHERE repo_id = ?", [repo_id])
    return rows[0] if rows else None


def label_history(con: duckdb.DuckDBPyConnection, repo_id: int) -> list[dict[str, Any]]:
    return fetch_dicts(
        con,
        "SELECT * FROM classifications WHERE repo_id = ? ORDER BY created_at, id",
        [repo_id],
    )


def label_as_of(
    con: duckdb.DuckDBPyConnection, repo_id: int, when: datetime
) -> dict[str, Any] | None:
    """How the repository was labelled at ``when``."""
    rows = fetch_dicts(con, "SELECT * FROM labels_as_of(?) WHERE repo_id = ?", [when, repo_id])
    return rows[0] if rows else None


def human_labels(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The newest human label of each repository with the text it was given for: training data."""
    return fetch_dicts(
        con,
        """
        SELECT r.full_name, r.description, r.language, r.topics, r.stars, r.created_at,
               r.readme_excerpt, h.layer, h.category, h.subcategory
        FROM (
            SELECT *, row_number() OVER (PARTITION BY repo_id ORDER BY created_at DESC, id DESC)
                AS rn
            FROM classifications WHERE method = 'human'
        ) h JOIN repositories r ON r.id = h.repo_id
        WHERE h.rn = 1
        ORDER BY r.full_name
        """,
    )
