"""Trends: growth over a window, top movers, shares over time, stars and languages per layer."""

from __future__ import annotations

from typing import Annotated, Literal

import duckdb
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.answers import release_answer
from api.deps import CursorDep, checked_category
from api.errors import InvalidParameterError
from api.figures import FigureSource, FigureSourceDep, month_rows, release_headers
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from api.schemas import GrowthRow, LanguageShare, LayerStars, Mover, ShareRow, Trends
from warehouse.analytics import (
    MOVERS_KEPT,
    WINDOWS,
    growth,
    language_mix,
    movers,
    shares,
    stars_by_layer,
)

router = APIRouter(prefix="/v1", tags=["trends"])

Section = Literal["growth", "movers", "shares", "stars", "languages"]
_SECTION_MODELS = {
    "growth": GrowthRow, "movers": Mover, "shares": ShareRow, "stars": LayerStars,
    "languages": LanguageShare,
}  # fmt: skip


def _window(value: int) -> int:
    if value not in WINDOWS:
        raise InvalidParameterError.outside("window", value, [str(w) for w in WINDOWS])
    return value


@router.get(
    "/trends",
    response_model=Trends,
    responses=CSV_RESPONSE,
    summary="Growth, top movers, shares over time, stars and languages per layer",
)
def get_trends(
    request: Request,
    cursor: CursorDep,
    fmt: FormatDep,
    source: FigureSourceDep,
    window: Annotated[int, Query(description="Days of growth: 7, 30 or 90.")] = 30,
    by: Annotated[
        Literal["layer", "category"], Query(description="Groups of `growth` and `shares`.")
    ] = "category",
    basis: Annotated[
        Literal["created", "crossed"], Query(description="Basis of `shares`.")
    ] = "created",
    category: Annotated[
        str | None, Query(description="Movers of this category only (default: every category).")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MOVERS_KEPT, description="Movers per category.")
    ] = 10,
    include_other: Annotated[bool, Query(description="Count non-AI repositories too.")] = False,
    section: Annotated[
        Section | None,
        Query(description="The one section a CSV answer holds (CSV needs it; JSON has all)."),
    ] = None,
) -> Trends | Response:
    days = _window(window)
    checked_category(category)
    if fmt == "csv" and section is None:
        raise InvalidParameterError(
            "section", "", f"a CSV answer holds one section: {', '.join(_SECTION_MODELS)}"
        )
    params = {
        "window": days, "by": by, "basis": basis, "category": category, "limit": limit,
        "include_other": include_other, "section": section if fmt == "csv" else None,
    }  # fmt: skip
    return release_answer(
        request, release=source.release, pinned=source.pinned, fmt=fmt, params=params,
        headers=source.headers, build=lambda: _trends_answer(cursor, source, fmt, **params),
    )  # fmt: skip


def _trends_answer(
    cursor: duckdb.DuckDBPyConnection,
    source: FigureSource,
    fmt: str,
    *,
    window: int,
    by: Literal["layer", "category"],
    basis: Literal["created", "crossed"],
    category: str | None,
    limit: int,
    include_other: bool,
    section: Section | None,
) -> Trends | Response:
    common = {"include_other": include_other, "release": source.release}
    sections = {
        "growth": growth(cursor, window_days=window, by=by, **common).to_dicts(),
        "movers": movers(
            cursor, window_days=window, category=category, limit=limit, **common
        ).to_dicts(),
        "shares": month_rows(shares(cursor, by=by, basis=basis, **common).drop("subcategory")),
        "stars": stars_by_layer(cursor, **common).to_dicts(),
        "languages": language_mix(cursor, **common).to_dicts(),
    }
    if fmt == "csv" and section is not None:
        return csv_response(
            sections[section], list(_SECTION_MODELS[section].model_fields),
            filename=f"trends_{section}.csv", headers=release_headers(source),
        )  # fmt: skip
    return Trends(
        release=source.release,
        data_date=source.data_date,
        window_days=window,
        by=by,
        basis=basis,
        **sections,  # type: ignore[arg-type]
    )
