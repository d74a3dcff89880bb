"""Parameters shared by the figure endpoints (counts, trends, releases): the release asked for,
months, and filters that take several values.

Dates are written one way everywhere: months ``YYYY-MM``, dates ``YYYY-MM-DD``, timestamps ISO 8601
in UTC with ``Z``. A month parameter also accepts a date and uses its month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Annotated, Any

import duckdb
import polars as pl
from fastapi import Depends, Query, Response
from pydantic import BeforeValidator

from api.deps import CursorDep, checked_category, checked_layer
from api.http import IMMUTABLE_CACHE_CONTROL, cache_immutable
from warehouse.analytics import data_date, ensure_analytics
from warehouse.releases import resolve_release

_MONTH_OR_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
MONTH_HELP = "YYYY-MM, or a date YYYY-MM-DD (its month is used)."


def parse_month(value: object) -> object:
    """'YYYY-MM' or 'YYYY-MM-DD' → the first day of that month; anything else is refused."""
    if not isinstance(value, str):
        return value
    match = _MONTH_OR_DATE.match(value.strip())
    if match is None:
        raise ValueError("expected a month as YYYY-MM (e.g. 2024-03) or a date as YYYY-MM-DD")
    year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        date(year, month, int(day) if day else 1)
    except ValueError as exc:
        raise ValueError(f"not a real month or date: {exc}") from exc
    return date(year, month, 1)


Month = Annotated[date, BeforeValidator(parse_month)]


def month_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame with a ``month`` column, the month written YYYY-MM."""
    return frame.with_columns(pl.col("month").dt.strftime("%Y-%m")).to_dicts()


def several(values: list[str] | None) -> list[str] | None:
    """Repeated parameters and comma-separated values alike: ``a&x=b`` or ``x=a,b``."""
    if not values:
        return None
    split = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return split or None


def checked_layers(values: list[str] | None) -> list[str] | None:
    wanted = several(values)
    for value in wanted or ():
        checked_layer(value, "layer")
    return wanted


def checked_categories(values: list[str] | None) -> list[str] | None:
    wanted = several(values)
    for value in wanted or ():
        checked_category(value, "category")
    return wanted


@dataclass(frozen=True)
class FigureSource:
    """The release a request reads (None: live figures, no release published yet)."""

    release: str | None
    pinned: bool  # the request named its release: the answer never changes
    cursor: duckdb.DuckDBPyConnection = field(repr=False, compare=False)

    @cached_property
    def data_date(self) -> date | None:
        """Read when needed: an answer served from the cache never asks."""
        return data_date(self.cursor, self.release)

    @property
    def headers(self) -> dict[str, str]:
        """Headers of every answer from this source (a pinned release's never changes)."""
        return {"Cache-Control": IMMUTABLE_CACHE_CONTROL} if self.pinned else {}


def figure_source(
    cursor: CursorDep,
    response: Response,
    release: Annotated[
        str | None,
        Query(
            description="A release id (YYYY-MM-DD.N, see /v1/releases); default the latest. "
            "An unknown id answers 404."
        ),
    ] = None,
) -> FigureSource:
    release_id = resolve_release(cursor, release)
    if release_id is None:
        ensure_analytics(cursor)
    if release is not None:
        cache_immutable(response)
    return FigureSource(release_id, pinned=release is not None, cursor=cursor)


FigureSourceDep = Annotated[FigureSource, Depends(figure_source)]


def release_headers(source: FigureSource) -> dict[str, str]:
    """What a CSV answer cannot say in its body: where its figures come from."""
    headers = {
        "X-Stackatlas-Release": source.release or "live",
        "X-Stackatlas-Data-Date": source.data_date.isoformat() if source.data_date else "",
    }
    if source.pinned:
        headers["Cache-Control"] = IMMUTABLE_CACHE_CONTROL
    return headers
