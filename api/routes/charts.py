"""Chart exports: ``/v1/charts/{name}.{png|svg|json|csv}`` with the parameters of the pages.

The same URL serves the page's chart (``.json``), a README image (``.svg`` / ``.png``) and the
data behind it (``.csv``); the file name says what, which release and which data date.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as Path_
from fastapi.responses import Response
from pydantic import BeforeValidator

from api.deps import CursorDep, SettingsDep, checked_category, checked_layer
from api.errors import InvalidParameterError
from dashboards.data import load_chart, render_version, resolve_release
from dashboards.exports import (
    EXPORT_FORMATS,
    MEDIA_TYPES,
    ExportFormat,
    RenderCache,
    Rendering,
    render,
)
from dashboards.params import Basis, ChartName, ChartParams, Level, Theme, YScale, parse_month
from dashboards.report import ReportRequest, build_report, zip_folder

router = APIRouter(prefix="/v1", tags=["charts"])

RELEASE_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"


def _month(value: object) -> object:
    return parse_month(value) if isinstance(value, str) else value


Month = Annotated[date, BeforeValidator(_month)]


def chart_parameters(
    basis: Annotated[Basis, Query(description="Count by creation month or by the month a "
                                  "repository reached the star threshold.")] = "created",
    level: Annotated[Level, Query(description="One line per layer, category or subcategory.")]
    = "category",
    yscale: Annotated[YScale, Query(description="Linear or log y axis.")] = "linear",
    start: Annotated[Month | None, Query(alias="from", description="First month, YYYY-MM.")]
    = None,
    end: Annotated[Month | None, Query(alias="to", description="Last month, YYYY-MM.")] = None,
    layer: Annotated[list[str] | None, Query(description="Only these layers (repeatable).")]
    = None,
    category: Annotated[list[str] | None, Query(description="Only these categories.")] = None,
    release: Annotated[str | None, Query(pattern=RELEASE_PATTERN,
                                         description="A release id; default the latest.")] = None,
    repo: Annotated[str | None, Query(max_length=200, pattern=r"^[^/\s]+/[^/\s]+$",
                                      description="OWNER/NAME (the stars chart).")] = None,
    theme: Annotated[Theme, Query(description="`grey` for a greyscale print.")] = "color",
    estimate: Annotated[bool, Query(description="The stack chart by category and creation "
                                    "month draws the estimated counts (dashed, with their "
                                    "interval shaded) beside the labelled ones; `false` hides "
                                    "them. The CSV then leaves out the estimate columns.")]
    = True,
) -> ChartParams:  # fmt: skip
    if start is not None and end is not None and end < start:
        raise InvalidParameterError("to", end.strftime("%Y-%m"), "`to` must not precede `from`")
    return ChartParams(
        basis=basis, level=level, yscale=yscale, start=start, end=end,
        layers=tuple(str(checked_layer(v)) for v in layer or ()),
        categories=tuple(str(checked_category(v)) for v in category or ()),
        release=release, repo=repo, theme=theme, estimate=estimate,
    )  # fmt: skip


ChartParamsDep = Annotated[ChartParams, Depends(chart_parameters)]


@router.get(
    "/charts/{name}.{fmt}",
    summary="A chart as PNG, SVG, Vega-Lite JSON or the CSV behind it",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES[f].split(";")[0]: {} for f in EXPORT_FORMATS}}},
)
def get_chart(
    request: Request,
    cursor: CursorDep,
    settings: SettingsDep,
    params: ChartParamsDep,
    name: ChartName,
    fmt: ExportFormat,
    dpi: Annotated[int | None, Query(ge=72, le=600, description="PNG print resolution, e.g. "
                                     "300 (keeps the printed size of the screen chart).")] = None,
    scale: Annotated[float | None, Query(ge=0.5, le=4, description="PNG scale factor when no "
                                         "dpi is given (1 = screen).")] = None,
    download: Annotated[bool, Query(description="Ask the browser to save the file.")] = False,
) -> Response:  # fmt: skip
    if name == "stars" and not params.repo:
        raise InvalidParameterError("repo", None, "the stars chart needs ?repo=OWNER/NAME")
    cache: RenderCache = request.app.state.chart_cache
    key = (name, fmt, params, dpi, scale)

    def make() -> Rendering:
        return render(load_chart(cursor, name, params, settings.min_stars), fmt, dpi=dpi,
                      scale=scale)  # fmt: skip

    rendering = cache.get(render_version(cursor), key, make)
    disposition = "attachment" if download else "inline"
    return Response(
        rendering.body,
        media_type=rendering.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{rendering.filename}"',
            "Cache-Control": "public, max-age=300",
        },
    )


@router.get(
    "/reports/{release}.zip",
    summary="The writers' report of a release as a zip (`latest` for the newest)",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def get_report(
    request: Request,
    cursor: CursorDep,
    settings: SettingsDep,
    release: Annotated[str, Path_(pattern=RELEASE_PATTERN)],
    start: Annotated[Month | None, Query(alias="from", description="First month, YYYY-MM.")]
    = None,
    end: Annotated[Month | None, Query(alias="to", description="Last month, YYYY-MM.")] = None,
) -> Response:  # fmt: skip
    if start is not None and end is not None and end < start:
        raise InvalidParameterError("to", end.strftime("%Y-%m"), "`to` must not precede `from`")
    found = resolve_release(cursor, None if release == "latest" else release)
    release_id = found.id if found else None
    name = f"stackatlas-report-{release_id or 'live'}"
    cache: RenderCache = request.app.state.chart_cache
    base_url = str(request.base_url).rstrip("/")

    def make() -> Rendering:
        with tempfile.TemporaryDirectory(prefix="stackatlas-report-") as folder:
            build_report(cursor, Path(folder), ReportRequest(
                release=release_id, start=start, end=end, threshold=settings.min_stars,
                base_url=base_url))  # fmt: skip
            body = zip_folder(Path(folder), name)
        return Rendering(body, "application/zip", f"{name}.zip")

    rendering = cache.get(render_version(cursor), ("report", release_id, start, end), make)
    return Response(
        rendering.body,
        media_type=rendering.media_type,
        headers={"Content-Disposition": f'attachment; filename="{rendering.filename}"'},
    )
