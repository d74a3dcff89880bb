"""Repositories: search, one repository with its label history, and human labels."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CursorDep, WriteAccess, checked_category, checked_layer
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from api.schemas import (
    LabelChange,
    LabelDetail,
    RepoDetail,
    RepoItem,
    RepoPage,
    label_summary,
)
from stackatlas.errors import NotFoundError
from warehouse.labels import current_label, label_as_of, label_history
from warehouse.queries import (
    RepoFilter,
    SortKey,
    count_repositories,
    known_names,
    latest_observations,
    search_repositories,
)
from warehouse.repos import find_repository

MAX_INT = 2**31 - 1
"""Bound of integer parameters: beyond it DuckDB cannot bind the value (a 500, not a 422)."""

router = APIRouter(prefix="/v1/repos", tags=["repositories"])

SortParam = Literal["stars", "-stars", "created", "-created", "name", "-name"]
StatusParam = Literal["active", "below_threshold", "vanished", "all"]

CSV_COLUMNS = (
    "full_name", "id", "description", "stars", "forks", "language", "topics", "created_at",
    "status", "layer", "category", "subcategory", "confidence", "method",
)  # fmt: skip


def _sort_key(sort: SortParam) -> tuple[SortKey, bool]:
    descending = sort.startswith("-")
    key: SortKey = sort.lstrip("-")  # type: ignore[assignment]
    return key, descending


def _item(row: dict[str, Any]) -> RepoItem:
    return RepoItem.model_validate(
        {**row, "topics": row["topics"] or [], "label": label_summary(row)}
    )


@router.get("", response_model=RepoPage, responses=CSV_RESPONSE, summary="Search repositories")
def list_repositories(
    cursor: CursorDep,
    fmt: FormatDep,
    layer: Annotated[str | None, Query(description="A layer of the taxonomy.")] = None,
    category: Annotated[str | None, Query(description="A category of the taxonomy.")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Text in name or description.")
    ] = None,
    min_stars: Annotated[int | None, Query(ge=0, le=MAX_INT)] = None,
    status: Annotated[StatusParam, Query(description="`all` for every status.")] = "active",
    language: Annotated[str | None, Query(description="Main language, any case.")] = None,
    sort: Annotated[SortParam, Query(description="`-` prefix sorts descending.")] = "-stars",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> RepoPage | Response:
    filters = RepoFilter(
        layer=checked_layer(layer),
        category=checked_category(category),
        text=q,
        min_stars=min_stars,
        status=None if status == "all" else status,
        language=language,
    )
    key, descending = _sort_key(sort)
    total = count_repositories(cursor, filters)
    rows = search_repositories(
        cursor, filters, sort=key, descending=descending, limit=limit, offset=offset
    )
    if fmt == "csv":
        return csv_response(
            rows, CSV_COLUMNS, filename="repos.csv", headers={"X-Total-Count": str(total)}
        )
    return RepoPage(total=total, limit=limit, offset=offset, items=[_item(r) for r in rows])


def _repository(cursor: duckdb.DuckDBPyConnection, owner: str, name: str) -> dict[str, Any]:
    full_name = f"{owner}/{name}"
    repo = find_repository(cursor, full_name)
    if repo is None:
        raise NotFoundError(
            f"repository {full_name} is not in the warehouse",
            "check the OWNER/NAME spelling; search with /v1/repos?q=…",
        )
    return repo


@router.get("/{owner}/{name}", response_model=RepoDetail, summary="One repository")
def get_repository(
    cursor: CursorDep,
    owner: str,
    name: str,
    as_of: Annotated[
        date | None,
        Query(description="YYYY-MM-DD: the label in force at the end of that day."),
    ] = None,
) -> RepoDetail:
    repo = _repository(cursor, owner, name)
    if as_of is None:
        label = current_label(cursor, repo["id"])
    else:
        label = label_as_of(cursor, repo["id"], datetime.combine(as_of, time.max))
    return RepoDetail.model_validate(
        {
            **repo,
            "topics": repo["topics"] or [],
            "names": known_names(cursor, repo["id"]),
            "as_of": as_of,
            "label": label,
            "label_history": label_history(cursor, repo["id"]),
            "observations": latest_observations(cursor, repo["id"]),
        }
    )


@router.put(
    "/{owner}/{name}/label",
    response_model=LabelDetail,
    dependencies=[WriteAccess],
    summary="Set a human label (needs X-API-Key)",
)
def put_label(cursor: CursorDep, owner: str, name: str, change: LabelChange) -> LabelDetail:
    from classifier.overrides import set_human_label

    checked_category(change.category)
    repo = _repository(cursor, owner, name)
    label = set_human_label(
        cursor, repo["full_name"], change.category, change.subcategory, change.note
    )
    return LabelDetail.model_validate(label)
