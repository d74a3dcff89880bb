"""A chart as a file: PNG (screen or print resolution), SVG, Vega-Lite JSON or the CSV behind it.

Renders are cached per data version (``RenderCache``): the same chart with the same parameters is
drawn once until the labels or repositories change.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Literal

import polars as pl

from dashboards.charts import build_chart, chart_png, chart_spec, chart_svg
from dashboards.data import ChartData

ExportFormat = Literal["png", "svg", "json", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("png", "svg", "json", "csv")
MEDIA_TYPES: dict[ExportFormat, str] = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}
# vl-convert lays a chart out in points (1/72 in): ``ppi`` sets the resolution (and so the pixel
# size) at an unchanged printed size, EXPORT_WIDTH / 72 inches wide.
SCREEN_PPI = 72
PRINT_DPI = 300


@dataclass(frozen=True)
class Rendering:
    body: bytes
    media_type: str
    filename: str


def png_scale(dpi: int | None, scale: float | None) -> tuple[float, float]:
    """(scale, ppi) of a PNG: ``dpi`` keeps the printed size of a screen chart; else ``scale``."""
    if dpi is not None:
        return 1.0, float(dpi)
    return (scale if scale is not None else 1.0), float(SCREEN_PPI)


def file_name(data: ChartData, fmt: ExportFormat, dpi: int | None = None) -> str:
    """e.g. ``stackatlas-stack-category-created-2026-12-03.1.png`` (the release or data date)."""
    stamp = data.context.release or (
        f"live-{data.context.data_date.isoformat()}" if data.context.data_date else "live"
    )
    resolution = f"-{dpi}dpi" if fmt == "png" and dpi is not None else ""
    return f"stackatlas-{data.name}-{data.params.slug()}-{stamp}{resolution}.{fmt}"


def csv_text(data: ChartData) -> str:
    """The chart's frame; with estimates drawn, also how they were made (method, model)."""
    frame = data.frame
    served = data.context.estimates
    if data.estimated and served is not None:
        frame = frame.with_columns(
            pl.lit(served.method).alias("estimate_method"),
            pl.lit(served.model_version).alias("estimate_model_version"),
            pl.lit(served.interval_level).alias("estimate_interval_level"),
        )
    return frame.write_csv()


def render(
    data: ChartData, fmt: ExportFormat, *, dpi: int | None = None, scale: float | None = None
) -> Rendering:
    name = file_name(data, fmt, dpi)
    if fmt == "csv":
        return Rendering(csv_text(data).encode(), MEDIA_TYPES[fmt], name)
    chart = build_chart(data)
    if fmt == "json":
        body = json.dumps(chart_spec(chart), default=str).encode()
    elif fmt == "svg":
        body = chart_svg(chart).encode()
    else:
        png_factor, ppi = png_scale(dpi, scale)
        body = chart_png(chart, scale=png_factor, ppi=ppi)
    return Rendering(body, MEDIA_TYPES[fmt], name)


class RenderCache:
    """Keeps the newest renders of one data version; a new version empties it."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._version: Hashable = None
        self._items: OrderedDict[Hashable, Rendering] = OrderedDict()

    def get(
        self, version: Hashable, key: Hashable, make: Callable[[], Rendering]
    ) -> Rendering:
        with self._lock:
            if version != self._version:
                self._items.clear()
                self._version = version
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        rendering = make()  # outside the lock: a render takes up to a second
        with self._lock:
            if version == self._version:
                self._items[key] = rendering
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return rendering
