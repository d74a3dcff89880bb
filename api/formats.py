"""Content negotiation for collections: JSON or CSV, by ``?format=`` or the ``Accept`` header.

Every collection endpoint declares ``fmt: FormatDep`` and answers ``csv_response(...)`` when it is
``"csv"``; ``?format=`` wins over ``Accept``, and JSON is the default.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import Response

Format = Literal["json", "csv"]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

# For ``responses=`` of a collection route: the OpenAPI schema then lists the CSV body too.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _accept_prefers_csv(accept: str) -> bool:
    """True when ``Accept`` ranks text/csv above application/json (q-values honoured)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[media.lower()] = max(quality, weights.get(media.lower(), 0.0))
    csv_weight = weights.get("text/csv", 0.0)
    json_weight = max(weights.get("application/json", 0.0), weights.get("*/*", 0.0) * 0.99)
    return csv_weight > 0 and csv_weight > json_weight


async def response_format(  # async: pure header parsing, no hop to the thread pool
    request: Request,
    format: Annotated[
        Format | None,
        Query(description="`json` or `csv`; without it `Accept` decides (JSON by default)."),
    ] = None,
) -> Format:
    if format is not None:
        return format
    return "csv" if _accept_prefers_csv(request.headers.get("accept", "")) else "json"


FormatDep = Annotated[Format, Depends(response_format)]


def csv_response(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str],
    *,
    filename: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Rows as a CSV document (header line first); lists are joined with commas."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return Response(
        buffer.getvalue(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{filename}"', **(headers or {})},
    )


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        # The warehouse stores UTC without a zone; say so, as the JSON answers do.
        return value.isoformat() + "Z" if value.tzinfo is None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return "" if value is None else value
