"""Counts: the monthly series on two bases, and the per-layer/category summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any, Literal

import duckdb
import polars as pl
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.answers import release_answer
from api.deps import CursorDep, taxonomy_layers
from api.errors import InvalidParameterError
from api.figures import (
    MONTH_HELP,
    FigureSource,
    FigureSourceDep,
    Month,
    checked_categories,
    checked_layers,
    month_rows,
    release_headers,
)
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from api.routes.estimates import ESTIMATE_CSV_COLUMNS, estimated_columns, estimated_counts
from api.schemas import (
    CategoryCount,
    LayerCount,
    MonthlySeries,
    SeriesPoint,
    Summary,
)
from warehouse.analytics import monthly_series, unknown_crossing
from warehouse.counts import category_summary
from warehouse.estimates import human_confirmed

router = APIRouter(prefix="/v1", tags=["counts"])

NOT_AI = frozenset({"other", "unlabelled"})


def _range(
    start: date | None, end: date | None, old_start: date | None, old_end: date | None
) -> tuple[date | None, date | None]:
    name = "to" if end is not None else "end"
    start, end = start or old_start, end or old_end
    if start is not None and end is not None and end < start:
        raise InvalidParameterError(name, end.strftime("%Y-%m"), "`to` must not precede `from`")
    return start, end


@router.get(
    "/counts/monthly",
    response_model=MonthlySeries,
    responses=CSV_RESPONSE,
    summary="New and cumulative repositories per month, by creation or threshold crossing",
)
def get_monthly_counts(
    request: Request,
    cursor: CursorDep,
    fmt: FormatDep,
    source: FigureSourceDep,
    by: Annotated[
        Literal["layer", "category", "subcategory"], Query(description="The groups counted.")
    ] = "category",
    basis: Annotated[
        Literal["created", "crossed"],
        Query(description="created: creation month; crossed: month the threshold was reached."),
    ] = "created",
    cumulative: Annotated[bool, Query(description="Also give the running total.")] = True,
    start: Annotated[
        Month | None, Query(alias="from", description=f"First month, {MONTH_HELP}")
    ] = None,
    end: Annotated[Month | None, Query(alias="to", description=f"Last month, {MONTH_HELP}")] = None,
    old_start: Annotated[
        Month | None, Query(alias="start", deprecated=True, description="Same as `from`.")
    ] = None,
    old_end: Annotated[
        Month | None, Query(alias="end", deprecated=True, description="Same as `to`.")
    ] = None,
    layer: Annotated[
        list[str] | None,
        Query(description="Layers to keep: repeat the parameter or separate by commas."),
    ] = None,
    category: Annotated[
        list[str] | None,
        Query(description="Categories to keep: repeat the parameter or separate by commas."),
    ] = None,
    include_other: Annotated[bool, Query(description="Count non-AI repositories too.")] = False,
    estimate: Annotated[
        bool,
        Query(
            description="Add `estimated`: the true counts estimated from the labels and the "
            "classifier's measured confusion, with method and 90% interval (per category by "
            "creation month: needs `by=category&basis=created`)."
        ),
    ] = False,
) -> MonthlySeries | Response:
    start, end = _range(start, end, old_start, old_end)
    if estimate and (by != "category" or basis != "created"):
        raise InvalidParameterError(
            "estimate", "true", "estimates exist per category by creation month: "
            "use by=category&basis=created"
        )
    query = MonthlyQuery(
        by=by, basis=basis, cumulative=cumulative, start=start, end=end,
        layers=checked_layers(layer), categories=checked_categories(category),
        include_other=include_other, estimate=estimate,
    )  # fmt: skip
    return release_answer(
        request, release=None if estimate else source.release, pinned=source.pinned, fmt=fmt,
        params=asdict(query), headers=source.headers,
        build=lambda: _monthly_answer(cursor, source, query, fmt),
    )  # fmt: skip


@dataclass(frozen=True)
class MonthlyQuery:
    """The normalized parameters of /v1/counts/monthly."""

    by: Literal["layer", "category", "subcategory"]
    basis: Literal["created", "crossed"]
    cumulative: bool
    start: date | None
    end: date | None
    layers: list[str] | None
    categories: list[str] | None
    include_other: bool
    estimate: bool


def _monthly_answer(
    cursor: duckdb.DuckDBPyConnection, source: FigureSource, query: MonthlyQuery, fmt: str
) -> MonthlySeries | Response:
    filters: dict[str, Any] = {
        "layers": query.layers,
        "categories": query.categories,
        "include_other": query.include_other,
        "release": source.release,
    }
    frame = monthly_series(
        cursor, by=query.by, basis=query.basis, cumulative=query.cumulative, start=query.start,
        end=query.end, **filters,
    )  # fmt: skip
    unknown = unknown_crossing(cursor, **filters)
    rows = month_rows(frame)
    estimated = (
        estimated_counts(
            cursor, release=source.release, layers=query.layers, categories=query.categories,
            start=query.start, end=query.end, include_other=query.include_other,
            cumulative=query.cumulative,
        )
        if query.estimate else None
    )  # fmt: skip
    if fmt == "csv":
        columns = [
            c for c in SeriesPoint.model_fields if query.cumulative or c != "cumulative_repos"
        ]
        columns += list(ESTIMATE_CSV_COLUMNS) if query.estimate else []
        headers = {**release_headers(source), "X-Stackatlas-Unknown-Crossing": str(unknown)}
        return csv_response(
            estimated_columns(rows, estimated), columns, filename="monthly_counts.csv",
            headers=headers,
        )
    return MonthlySeries(
        release=source.release,
        data_date=source.data_date,
        by=query.by,
        basis=query.basis,
        cumulative=query.cumulative,
        unknown_crossing=unknown,
        items=[SeriesPoint.model_validate(row) for row in rows],
        human_confirmed=human_confirmed(cursor, source.release),
        estimated=estimated,
    )


def _layer_order(layer: str) -> tuple[int, str]:
    known = taxonomy_layers()
    return (known.index(layer) if layer in known else len(known), layer)


@router.get(
    "/summary", response_model=Summary, summary="Active repositories per layer and category"
)
def get_summary(cursor: CursorDep) -> Summary:
    frame = category_summary(cursor)
    layers = [
        LayerCount(
            layer=layer,
            repos=int(group["repos"].sum()),
            categories=[
                CategoryCount.model_validate(r)
                for r in group.sort("repos", descending=True, maintain_order=True).to_dicts()
            ],
        )
        for (layer,), group in frame.group_by("layer", maintain_order=True)
    ]
    layers.sort(key=lambda item: _layer_order(item.layer))
    ai_total = frame.filter(~pl.col("category").is_in(list(NOT_AI)))["repos"].sum()
    return Summary(total=int(frame["repos"].sum()), ai_total=int(ai_total), layers=layers,
                   human_confirmed=human_confirmed(cursor))
