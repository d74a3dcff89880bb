"""Routers of the API, one module per resource, and the CSV answer they share."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from fastapi.responses import Response


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
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"', **(headers or {})},
    )


def _cell(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return "" if value is None else value
