"""INTERIM stand-in for h1's releases module (issue 9): the shared interface, nothing published.

Replaced wholesale by h1's ``warehouse/releases.py`` on merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb


@dataclass(frozen=True)
class Release:
    id: str
    published_at: datetime
    data_date: date | None
    methodology: dict[str, Any] = field(default_factory=dict)


def latest_release(con: duckdb.DuckDBPyConnection) -> Release | None:
    return None


def get_release(con: duckdb.DuckDBPyConnection, release_id: str) -> Release | None:
    return None


def list_releases(con: duckdb.DuckDBPyConnection) -> list[Release]:
    return []
