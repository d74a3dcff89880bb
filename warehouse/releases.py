"""Frozen, numbered releases: the figures, the labels and how they were made, never changed.

A release copies every table of ``FROZEN`` (name → SQL over the live warehouse) into
``release_<name>``, keyed by the release id ``YYYY-MM-DD.N`` (N counts the releases of that UTC
day), and stores a methodology record beside it. Release tables are append-only: nothing here
updates or deletes a row, so a release answers the same numbers for as long as the file lives.

Adding a frozen table is one line in ``FROZEN``: its ``release_<name>`` table is created on the
next publish with the columns of the SQL (plus ``release_id``). Readers ask ``frozen_source``
for a table: the release's frozen copy, or the live table when no release is published yet.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from stackatlas.errors import NotFoundError
from warehouse.db import fetch_dicts

log = logging.getLogger(__name__)

# name → SQL giving the live rows; ``release_<name>`` holds the frozen copies.
FROZEN: dict[str, str] = {
    "meta": "SELECT * FROM analytics_meta",
    "monthly": "SELECT * FROM analytics_monthly",
    "unknown_crossing": "SELECT * FROM analytics_unknown_crossing",
    "stars": "SELECT * FROM analytics_stars",
    "languages": "SELECT * FROM analytics_languages",
    "growth": "SELECT * FROM analytics_growth",
    "movers": "SELECT * FROM analytics_movers",
    "labels": """
        SELECT r.id AS repo_id, r.full_name, l.layer, l.category, l.subcategory, l.confidence,
               l.method, l.model_version
        FROM repositories r JOIN current_labels l ON l.repo_id = r.id
        WHERE r.status = 'active'
    """,
    # the newest estimated counts (warehouse/estimates.py), read back by monthly_estimates(release=)
    "count_estimates": """
        SELECT * FROM count_estimates WHERE model_version = (
            SELECT model_version FROM count_estimate_runs ORDER BY computed_at DESC LIMIT 1
        )
    """,
}

RELEASE_ID = re.compile(r"^\d{4}-\d{2}-\d{2}\.[1-9]\d*$")
_PUBLISH_LOCK = threading.Lock()  # one publish at a time in this process: ids are counted


@dataclass(frozen=True)
class Release:
    id: str
    published_at: datetime
    data_date: date | None
    methodology: dict[str, Any]
    tables: tuple[str, ...]


def _release(row: dict[str, Any]) -> Release:
    return Release(
        id=str(row["id"]),
        published_at=row["published_at"],
        data_date=row["data_date"],
        methodology=json.loads(row["methodology"]),
        tables=tuple(row["tables"]),
    )


_SELECT = "SELECT id, published_at, data_date, methodology, tables FROM releases"


def list_releases(con: duckdb.DuckDBPyConnection) -> list[Release]:
    """Every release, newest first."""
    return [_release(r) for r in fetch_dicts(con, f"{_SELECT} ORDER BY day DESC, seq DESC")]


def latest_release(con: duckdb.DuckDBPyConnection) -> Release | None:
    rows = fetch_dicts(con, f"{_SELECT} ORDER BY day DESC, seq DESC LIMIT 1")
    return _release(rows[0]) if rows else None


def get_release(con: duckdb.DuckDBPyConnection, release_id: str) -> Release:
    """The release with that id; ``NotFoundError`` (naming how to list them) when there is none."""
    rows = (
        fetch_dicts(con, f"{_SELECT} WHERE id = ?", [release_id])
        if RELEASE_ID.match(release_id)
        else []
    )
    if not rows:
        raise _no_release(release_id)
    return _release(rows[0])


def _no_release(release_id: str) -> NotFoundError:
    return NotFoundError(
        f"no release {release_id!r}",
        "release ids look like 2026-12-03.1; GET /v1/releases lists the published ones",
    )


def resolve_release(con: duckdb.DuckDBPyConnection, release: str | None) -> str | None:
    """The id to read: ``release`` if it exists, else the latest; None when none is published.

    Every figure request asks, so this reads the ids alone (not the methodology records).
    """
    if release is None:
        rows = con.execute("SELECT id FROM releases ORDER BY day DESC, seq DESC LIMIT 1").fetchall()
        return str(rows[0][0]) if rows else None
    if RELEASE_ID.match(release):
        rows = con.execute("SELECT id FROM releases WHERE id = ?", [release]).fetchall()
        if rows:
            return str(rows[0][0])
    raise _no_release(release)


def frozen_source(
    con: duckdb.DuckDBPyConnection, name: str, release: str | None
) -> tuple[str, dict[str, Any]]:
    """(a FROM-able SQL expression, its parameters) for table ``name`` of ``release``."""
    if name not in FROZEN:
        raise KeyError(f"no frozen table {name!r}")
    release_id = resolve_release(con, release)
    if release_id is None:
        return f"({FROZEN[name]})", {}
    return (
        f"(SELECT * EXCLUDE (release_id) FROM release_{name} WHERE release_id = $release_id)",
        {"release_id": release_id},
    )


def _next_id(con: duckdb.DuckDBPyConnection, day: date) -> tuple[str, int]:
    rows = con.execute("SELECT coalesce(max(seq), 0) FROM releases WHERE day = ?", [day]).fetchall()
    seq = int(rows[0][0]) + 1
    return f"{day.isoformat()}.{seq}", seq


def _freeze(con: duckdb.DuckDBPyConnection, name: str, release_id: str) -> None:
    sql = FROZEN[name]
    con.execute(
        f"CREATE TABLE IF NOT EXISTS release_{name} AS "
        f"SELECT ''::VARCHAR AS release_id, * FROM ({sql}) LIMIT 0"
    )
    con.execute(
        f"INSERT INTO release_{name} BY NAME SELECT $id AS release_id, * FROM ({sql})",
        {"id": release_id},
    )


def publish_release(
    con: duckdb.DuckDBPyConnection, methodology: dict[str, Any], *, now: datetime | None = None
) -> Release:
    """Freeze every ``FROZEN`` table and the methodology under a new id, in one transaction."""
    published_at = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with _PUBLISH_LOCK:
        release_id = _publish(con, methodology, published_at)
    log.info("published release %s", release_id)
    return get_release(con, release_id)


def _publish(
    con: duckdb.DuckDBPyConnection, methodology: dict[str, Any], published_at: datetime
) -> str:
    con.execute("BEGIN TRANSACTION")
    try:
        release_id, seq = _next_id(con, published_at.date())
        rows = con.execute("SELECT data_date FROM analytics_meta").fetchall()
        data_day = rows[0][0] if rows else None
        for name in FROZEN:
            _freeze(con, name, release_id)
        con.execute(
            "INSERT INTO releases (id, day, seq, published_at, data_date, methodology, tables) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [release_id, published_at.date(), seq, published_at, data_day,
             json.dumps(methodology, sort_keys=True, default=str), list(FROZEN)],
        )  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return release_id


def crawl_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the warehouse knows of how the data was gathered: query sets, crawl dates, versions."""
    runs = fetch_dicts(
        con,
        """
        SELECT min(started_at) AS first_crawl, max(coalesce(finished_at, started_at)) AS last_crawl,
               count(*)::BIGINT AS crawl_runs, list(DISTINCT query_set ORDER BY query_set)
                   FILTER (WHERE query_set IS NOT NULL) AS query_sets,
               list(DISTINCT mode ORDER BY mode) AS modes
        FROM crawl_runs WHERE status = 'succeeded'
        """,
    )[0]
    labels = fetch_dicts(
        con,
        """
        SELECT list(DISTINCT taxonomy_version ORDER BY taxonomy_version) AS taxonomy_versions,
               list(DISTINCT model_version ORDER BY model_version)
                   FILTER (WHERE model_version IS NOT NULL) AS model_versions
        FROM current_labels
        """,
    )[0]
    return {
        "crawl": {
            "first_run_at": _stamp(runs["first_crawl"]),
            "last_run_at": _stamp(runs["last_crawl"]),
            "runs": runs["crawl_runs"],
            "query_sets": runs["query_sets"] or [],
            "modes": runs["modes"] or [],
        },
        "labels": {
            "taxonomy_versions": labels["taxonomy_versions"] or [],
            "model_versions": labels["model_versions"] or [],
        },
    }


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parquet_bundle(con: duckdb.DuckDBPyConnection, release_id: str) -> bytes:
    """A zip of one Parquet file per frozen table of the release, plus ``methodology.json``.

    The same release gives the same bytes for as long as the file lives, whatever was published
    after it: fixed zip timestamps, the registry's file order, rows in one total order, and the
    Parquet written by polars from the rows alone. (DuckDB's own writer does not qualify: its
    bytes follow how the release table happens to be stored, which later publishes change.)
    """
    release = get_release(con, release_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in release.tables:
            bundle.writestr(_zip_entry(f"{name}.parquet"), _frozen_parquet(con, name, release.id))
        record = {
            "id": release.id,
            "published_at": _stamp(release.published_at),
            "data_date": release.data_date.isoformat() if release.data_date else None,
            "methodology": release.methodology,
        }
        bundle.writestr(_zip_entry("methodology.json"), json.dumps(record, indent=2) + "\n")
    return buffer.getvalue()


def _zip_entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    return entry


def _frozen_parquet(con: duckdb.DuckDBPyConnection, name: str, release_id: str) -> bytes:
    frame = con.sql(
        f"SELECT * EXCLUDE (release_id) FROM release_{name} WHERE release_id = $id ORDER BY ALL",
        params={"id": release_id},
    ).pl().rechunk()  # one chunk: row groups follow the rows alone, not how they were fetched
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=True)
    return buffer.getvalue()
