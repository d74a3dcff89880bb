"""Counts: the cumulative monthly series and the per-layer/category summary."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BeforeValidator

from api.deps import CursorDep, checked_category, checked_layer, taxonomy_layers
from api.errors import InvalidParameterError
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from api.routes.estimates import ESTIMATE_CSV_COLUMNS, estimated_columns, estimated_counts
from api.schemas import CategoryCount, LayerCount, MonthlyCount, MonthlyCounts, Summary
from warehouse.counts import category_summary, monthly_counts
from warehouse.estimates import human_confirmed

router = APIRouter(prefix="/v1", tags=["counts"])

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
NOT_AI = frozenset({"other", "unlabelled"})


def parse_month(value: object) -> object:
    """'YYYY-MM' → the first day of that month; anything else is left for pydantic to refuse."""
    if not isinstance(value, str):
        return value
    match = _MONTH.match(value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError("expected a month as YYYY-MM, e.g. 2024-03")
    return date(int(match.group(1)), int(match.group(2)), 1)


Month = Annotated[date, BeforeValidator(parse_month)]


def _month_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(pl.col("month").dt.strftime("%Y-%m")).to_dicts()


@router.get(
    "/counts/monthly",
    response_model=MonthlyCounts,
    responses=CSV_RESPONSE,
    summary="New and cumulative repositories per creation month",
)
def get_monthly_counts(
    cursor: CursorDep,
    fmt: FormatDep,
    layer: Annotated[str | None, Query(description="A layer of the taxonomy.")] = None,
    category: Annotated[str | None, Query(description="A category of the taxonomy.")] = None,
    start: Annotated[Month | None, Query(description="First month, YYYY-MM.")] = None,
    end: Annotated[Month | None, Query(description="Last month, YYYY-MM.")] = None,
    include_other: Annotated[bool, Query(description="Count non-AI repositories too.")] = False,
    estimate: Annotated[bool, Query(
        description="Add `estimated`: the true counts estimated from the labels and the "
                    "classifier's measured confusion, with method and 90% interval.")] = False,
) -> MonthlyCounts | Response:
    if start is not None and end is not None and end < start:
        raise InvalidParameterError("end", end.strftime("%Y-%m"), "end must not precede start")
    frame = monthly_counts(
        cursor,
        layer=checked_layer(layer),
        category=checked_category(category),
        start=start,
        end=end,
        include_other=include_other,
    )
    rows = _month_rows(frame)
    estimated = estimated_counts(cursor, layer=layer, category=category, start=start, end=end,
                                 include_other=include_other) if estimate else None
    if fmt == "csv":
        return csv_response(estimated_columns(rows, estimated),
                            list(MonthlyCount.model_fields)
                            + (list(ESTIMATE_CSV_COLUMNS) if estimate else []),
                            filename="monthly_counts.csv")
    return MonthlyCounts(items=[MonthlyCount.model_validate(row) for row in rows],
                         human_confirmed=human_confirmed(cursor), estimated=estimated)


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
                for r in group.sort("repos", descending=True).to_dicts()
            ],
        )
        for (layer,), group in frame.group_by("layer", maintain_order=True)
    ]
    layers.sort(key=lambda item: _layer_order(item.layer))
    ai_total = frame.filter(~pl.col("category").is_in(list(NOT_AI)))["repos"].sum()
    return Summary(total=int(frame["repos"].sum()), ai_total=int(ai_total), layers=layers,
                   human_confirmed=human_confirmed(cursor))
