"""Estimated counts per creation month: the labelled counts corrected for measured confusion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CursorDep, checked_category, checked_layer
from api.errors import error_responses
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from api.schemas import EstimatedCounts, EstimatedMonth
from stackatlas.errors import NotFoundError
from warehouse.estimates import estimate_run, human_confirmed, latest_run, monthly_estimates

router = APIRouter(prefix="/v1", tags=["counts"])


def estimated_counts(
    cursor: CursorDep,
    *,
    release: str | None = None,
    layers: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    include_other: bool = False,
    cumulative: bool = True,
) -> EstimatedCounts | None:
    """The estimates of ``release`` (None: the newest set) with their method and interval;
    None before the first estimate."""
    frame = monthly_estimates(cursor, release=release, cumulative=cumulative, start=start, end=end)
    run = latest_run(cursor) if frame.is_empty() else estimate_run(
        cursor, frame["model_version"][0]
    )
    if run is None:
        return None
    rows = [
        EstimatedMonth(month=row["month"].strftime("%Y-%m"), layer=row["layer"],
                       category=row["category"], estimate=round(row["estimate"], 2),
                       lo=round(row["lo"], 2), hi=round(row["hi"], 2))
        for row in frame.iter_rows(named=True)
        if (include_other or row["category"] != "other")
        and (not layers or row["layer"] in layers)
        and (not categories or row["category"] in categories)
    ]  # fmt: skip
    return EstimatedCounts(
        method=run.method, model_version=run.model_version, computed_at=run.computed_at,
        interval_level=run.interval_level, cumulative=cumulative,
        human_confirmed=human_confirmed(cursor, release), items=rows,
    )


@router.get(
    "/counts/estimated",
    response_model=EstimatedCounts,
    responses={**CSV_RESPONSE, **error_responses(404, 422)},
    summary="Estimated true repositories per creation month, with a 90% interval",
)
def get_estimated_counts(
    cursor: CursorDep,
    fmt: FormatDep,
    layer: Annotated[str | None, Query(description="A layer of the taxonomy.")] = None,
    category: Annotated[str | None, Query(description="A category of the taxonomy.")] = None,
    include_other: Annotated[bool, Query(description="Estimate non-AI repositories too.")] = False,
    cumulative: Annotated[bool, Query(description="Running totals (else new per month).")] = True,
) -> EstimatedCounts | Response:
    checked = checked_layer(layer), checked_category(category)
    estimated = estimated_counts(
        cursor, layers=[checked[0]] if checked[0] else None,
        categories=[checked[1]] if checked[1] else None,
        include_other=include_other, cumulative=cumulative,
    )
    if estimated is None:
        raise NotFoundError("no estimated counts yet",
                            "run `stackatlas classify` (or the pipeline) to compute them")
    if fmt == "csv":
        return csv_response([item.model_dump() for item in estimated.items],
                            list(EstimatedMonth.model_fields), filename="estimated_counts.csv")
    return estimated


ESTIMATE_CSV_COLUMNS = ("estimated", "estimated_lo", "estimated_hi", "estimate_method")


def estimated_columns(rows: list[dict[str, object]],
                      estimated: EstimatedCounts | None) -> list[dict[str, object]]:
    """Labelled CSV rows with the estimate of the same month and category beside them (empty
    cells without ``estimate=true``)."""
    if estimated is None:
        return rows
    by_key = {(item.month, item.category): item for item in estimated.items}
    joined = []
    for row in rows:
        item = by_key.get((str(row["month"]), str(row["category"])))
        extra = {} if item is None else {"estimated": item.estimate, "estimated_lo": item.lo,
                                         "estimated_hi": item.hi,
                                         "estimate_method": estimated.method}
        joined.append({**row, **extra})
    return joined
