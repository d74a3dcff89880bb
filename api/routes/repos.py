"""Repositories: filtered, faceted, sorted, cursor-paged search; one repository; human labels.

Filters that take several values accept them repeated (``category=models&category=lists``), as
one comma-separated list (``category=models,lists``) or both; values of one filter are
alternatives (OR) and filters combine with AND.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import CursorDep, WriteAccess, query_beside
from api.errors import InvalidParameterError, error_responses
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from api.pagination import decode_cursor, encode_cursor, next_url
from api.schemas import (
    Facet,
    FacetValue,
    LabelChange,
    LabelDetail,
    RepoDetail,
    RepoItem,
    RepoPage,
    label_summary,
)
from classifier import taxonomy
from stackatlas.errors import NotFoundError
from warehouse.labels import current_label, label_as_of, label_history
from warehouse.queries import (
    Keyset,
    RepoFilter,
    SortKey,
    count_repositories,
    facet_counts,
    known_names,
    latest_observations,
    search_repositories,
    sort_value,
    star_series,
)
from warehouse.repos import find_repository

router = APIRouter(prefix="/v1/repos", tags=["repositories"])

SORT_KEYS: tuple[str, ...] = ("stars", "forks", "created", "pushed", "name", "id")
SortParam = Literal[
    "stars", "-stars", "forks", "-forks", "created", "-created",
    "pushed", "-pushed", "name", "-name", "id", "-id",
]  # fmt: skip
StatusParam = Literal["active", "below_threshold", "vanished", "all"]
FacetParam = Literal["layer", "category", "subcategory", "language", "status", "archived", "method"]

LABEL_COLUMNS = ("layer", "category", "subcategory", "confidence", "method")
ITEM_FIELDS: tuple[str, ...] = tuple(RepoItem.model_fields)
MAX_VALUES = 50  # values of one multi-valued filter
MAX_OFFSET = 100_000
FACET_SIZE = 30
MAX_STARS = 2**31 - 1


_SPECIAL = frozenset(".^$*+?()[]{}|\\")


def _alternatives(values: list[str]) -> str:
    """An ECMA regex (for the OpenAPI schema) of a comma list of ``values``."""
    escaped = "|".join("".join(f"\\{c}" if c in _SPECIAL else c for c in v) for v in values)
    return f"^({escaped})(,({escaped}))*$"


def _list_query(description: str, allowed: list[str] | None = None, **extra: Any) -> Any:
    items: dict[str, Any] = {"type": "string", "maxLength": 1000}
    if allowed is not None:
        items["pattern"] = _alternatives(allowed)
    return Query(
        description=f"{description} Several values: repeat the parameter or separate with commas.",
        json_schema_extra={"items": items, "maxItems": MAX_VALUES},
        **extra,
    )


_CATEGORIES = list(taxonomy.CATEGORIES)
_SUBCATEGORIES = sorted({s for c in taxonomy.CATEGORIES.values() for s in c.subcategories})
_FIELDS_HELP = (
    f"Item properties to return, e.g. `full_name,stars`; any of: {', '.join(ITEM_FIELDS)}."
)


def split_values(
    parameter: str, raw: list[str] | None, allowed: list[str] | None = None
) -> tuple[str, ...]:
    """Repeated and comma-separated values of one parameter, checked against ``allowed``."""
    values = [part.strip() for item in raw or [] for part in item.split(",") if part.strip()]
    if len(values) > MAX_VALUES:
        raise InvalidParameterError(
            parameter, f"{len(values)} values", f"give at most {MAX_VALUES} values"
        )
    if allowed is not None:
        for value in values:
            if value not in allowed:
                raise InvalidParameterError.outside(parameter, value, allowed)
    return tuple(dict.fromkeys(values))


def _sort_key(sort: SortParam) -> tuple[SortKey, bool]:
    descending = sort.startswith("-")
    key: SortKey = sort.lstrip("-")  # type: ignore[assignment]
    return key, descending


def _item(row: dict[str, Any], fields: tuple[str, ...]) -> RepoItem:
    values = {**row, "topics": row["topics"] or [], "label": label_summary(row)}
    return RepoItem.model_validate({name: values[name] for name in fields})


def _csv_columns(fields: tuple[str, ...]) -> list[str]:
    columns: list[str] = []
    for name in fields:
        columns.extend(LABEL_COLUMNS if name == "label" else (name,))
    return columns


def _checked_range(filters: RepoFilter) -> RepoFilter:
    if (
        filters.min_stars is not None
        and filters.max_stars is not None
        and filters.max_stars < filters.min_stars
    ):
        raise InvalidParameterError("max_stars", filters.max_stars, "must not be below min_stars")
    if (
        filters.created_from is not None
        and filters.created_to is not None
        and filters.created_to < filters.created_from
    ):
        raise InvalidParameterError(
            "created_to", filters.created_to.isoformat(), "must not precede created_from"
        )
    return filters


def _facets(
    cursor: duckdb.DuckDBPyConnection, filters: RepoFilter, names: tuple[str, ...]
) -> dict[str, Facet]:
    facets = {}
    for name in names:
        rows = facet_counts(cursor, filters, name, limit=FACET_SIZE)
        facets[name] = Facet(
            values=[FacetValue.model_validate(row) for row in rows[:FACET_SIZE]],
            truncated=len(rows) > FACET_SIZE,
        )
    return facets


@router.get(
    "",
    response_model=RepoPage,
    response_model_exclude_unset=True,
    responses={**CSV_RESPONSE, **error_responses(422)},
    summary="Search repositories: filters, facets, sorting, cursor paging, field selection",
)
def list_repositories(
    request: Request,
    response: Response,
    cursor: CursorDep,
    fmt: FormatDep,
    layer: Annotated[
        list[str] | None, _list_query("Layers of the taxonomy.", list(taxonomy.LAYERS))
    ] = None,
    category: Annotated[
        list[str] | None, _list_query("Categories of the taxonomy.", _CATEGORIES)
    ] = None,
    subcategory: Annotated[
        list[str] | None, _list_query("Subcategories of the taxonomy.", _SUBCATEGORIES)
    ] = None,
    language: Annotated[list[str] | None, _list_query("Main languages, any case.")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Text in name or description.")
    ] = None,
    min_stars: Annotated[int | None, Query(ge=0, le=MAX_STARS)] = None,
    max_stars: Annotated[int | None, Query(ge=0, le=MAX_STARS)] = None,
    created_from: Annotated[
        date | None, Query(description="Created on or after this day, YYYY-MM-DD.")
    ] = None,
    created_to: Annotated[
        date | None, Query(description="Created on or before this day, YYYY-MM-DD.")
    ] = None,
    archived: Annotated[bool | None, Query(description="Only archived (true) or not.")] = None,
    status: Annotated[StatusParam, Query(description="`all` for every status.")] = "active",
    facet: Annotated[
        list[FacetParam] | None,
        Query(description="Count repositories per value of these columns under the filters."),
    ] = None,
    fields: Annotated[list[str] | None, _list_query(_FIELDS_HELP, list(ITEM_FIELDS))] = None,
    sort: Annotated[SortParam, Query(description="`-` prefix sorts descending.")] = "-stars",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip; prefer `cursor`.")
    ] = 0,
    cursor_token: Annotated[
        str | None,
        Query(
            alias="cursor",
            max_length=512,
            description="Opaque: the `next_cursor` of the previous page (same sort).",
        ),
    ] = None,
) -> RepoPage | Response:
    filters = _checked_range(
        RepoFilter(
            layers=split_values("layer", layer, list(taxonomy.LAYERS)),
            categories=split_values("category", category, _CATEGORIES),
            subcategories=split_values("subcategory", subcategory, _SUBCATEGORIES),
            languages=split_values("language", language),
            statuses=() if status == "all" else (status,),
            text=q,
            min_stars=min_stars,
            max_stars=max_stars,
            created_from=created_from,
            created_to=created_to,
            archived=archived,
        )
    )
    key, descending = _sort_key(sort)
    chosen = split_values("fields", fields, list(ITEM_FIELDS)) or ITEM_FIELDS
    after = _keyset(cursor_token, sort, offset)
    counting = query_beside(cursor, count_repositories, filters)  # the total, meanwhile the page
    try:
        # One row more than the page tells whether a next page exists.
        rows = search_repositories(
            cursor, filters, sort=key, descending=descending, limit=limit + 1, offset=offset,
            after=after,
        )
    finally:
        total = counting.result()
    more, rows = len(rows) > limit, rows[:limit]
    token = encode_cursor(sort, sort_value(rows[-1], key), rows[-1]["id"]) if more else None
    link = next_url(request, token)
    headers = {"X-Total-Count": str(total), **({"Link": f'<{link}>; rel="next"'} if link else {})}
    if fmt == "csv":
        return csv_response(rows, _csv_columns(chosen), filename="repos.csv", headers=headers)
    page = RepoPage(
        total=total,
        limit=limit,
        offset=offset,
        next=link,
        next_cursor=token,
        facets=_facets(cursor, filters, tuple(dict.fromkeys(facet or []))),
        items=[_item(row, chosen) for row in rows],
    )
    response.headers.update(headers)
    return page


def _keyset(token: str | None, sort: str, offset: int) -> Keyset | None:
    if token is None:
        return None
    if offset:
        raise InvalidParameterError("offset", offset, "use either cursor or offset, not both")
    return decode_cursor(token, sort)


def _repository(cursor: duckdb.DuckDBPyConnection, owner: str, name: str) -> dict[str, Any]:
    full_name = f"{owner}/{name}"
    repo = find_repository(cursor, full_name)
    if repo is None:
        raise NotFoundError(
            f"repository {full_name} is not in the warehouse",
            "check the OWNER/NAME spelling; search with /v1/repos?q=…",
        )
    return repo


@router.get(
    "/{owner}/{name}",
    response_model=RepoDetail,
    responses=error_responses(404, 422),
    summary="One repository: label with rationale, history, names, observations, star series",
)
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
            "star_series": star_series(cursor, repo["id"]),
        }
    )


def _check_label(change: LabelChange) -> None:
    """Only the taxonomy's values: a subcategory must be one of its category's."""
    if change.category not in taxonomy.CATEGORIES:
        raise InvalidParameterError.outside("category", change.category, _CATEGORIES)
    allowed = taxonomy.CATEGORIES[change.category].subcategories
    if change.subcategory is not None and change.subcategory not in allowed:
        raise InvalidParameterError(
            "subcategory",
            change.subcategory,
            f"subcategories of {change.category}: {', '.join(allowed) or 'none'}",
        )


@router.put(
    "/{owner}/{name}/label",
    response_model=LabelDetail,
    dependencies=[WriteAccess],
    responses=error_responses(401, 404, 422, 503),
    summary="Set a human label (needs X-API-Key)",
)
def put_label(cursor: CursorDep, owner: str, name: str, change: LabelChange) -> LabelDetail:
    from classifier.overrides import set_human_label

    _check_label(change)
    repo = _repository(cursor, owner, name)
    label = set_human_label(
        cursor, repo["full_name"], change.category, change.subcategory, change.note
    )
    return LabelDetail.model_validate(label)
