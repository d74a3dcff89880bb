"""Releases: the frozen, citable sets of figures, their methodology and a Parquet download."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from api.answers import release_answer
from api.deps import CursorDep
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from api.http import IMMUTABLE_CACHE_CONTROL, cache_immutable
from api.schemas import ReleaseDetail, ReleaseList, ReleaseSummary
from warehouse.releases import Release, get_release, list_releases, parquet_bundle

router = APIRouter(prefix="/v1", tags=["releases"])

ReleaseId = Annotated[str, PathParam(description="A release id, YYYY-MM-DD.N.")]
ZIP_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}
}


def _summary(request: Request, release: Release) -> dict[str, object]:
    return {
        "id": release.id,
        "published_at": release.published_at.replace(tzinfo=UTC),
        "data_date": release.data_date,
        "url": str(request.url_for("get_release_detail", release_id=release.id)),
        "download_url": str(request.url_for("download_release", release_id=release.id)),
    }


@router.get(
    "/releases",
    response_model=ReleaseList,
    responses=CSV_RESPONSE,
    summary="Every published release, newest first",
)
def get_releases(request: Request, cursor: CursorDep, fmt: FormatDep) -> ReleaseList | Response:
    items = [ReleaseSummary.model_validate(_summary(request, r)) for r in list_releases(cursor)]
    if fmt == "csv":
        rows = [item.model_dump(mode="json") for item in items]
        return csv_response(rows, list(ReleaseSummary.model_fields), filename="releases.csv")
    return ReleaseList(items=items)


@router.get(
    "/releases/{release_id}",
    response_model=ReleaseDetail,
    summary="One release: its tables, methodology and how to cite it",
)
def get_release_detail(
    request: Request, response: Response, cursor: CursorDep, release_id: ReleaseId
) -> ReleaseDetail:
    release = get_release(cursor, release_id)
    cache_immutable(response)  # a published release never changes
    summary = _summary(request, release)
    return ReleaseDetail.model_validate(
        {
            **summary,
            "tables": list(release.tables),
            "methodology": release.methodology,
            "citation": f"stackatlas release {release.id}, {summary['url']}",
        }
    )


@router.get(
    "/releases/{release_id}/download",
    response_class=Response,
    responses=ZIP_RESPONSE,
    summary="A whole release as a zip of Parquet files (one per table) and its methodology",
)
def download_release(request: Request, cursor: CursorDep, release_id: ReleaseId) -> Response:
    release = get_release(cursor, release_id)
    headers = {
        "Content-Disposition": f'attachment; filename="stackatlas-{release.id}.zip"',
        "Cache-Control": IMMUTABLE_CACHE_CONTROL,
    }
    return release_answer(
        request, release=release.id, pinned=True, fmt="zip", params={}, headers=headers,
        build=lambda: Response(parquet_bundle(cursor, release.id), media_type="application/zip"),
    )  # fmt: skip
