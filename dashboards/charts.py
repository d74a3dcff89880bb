"""Altair charts of the warehouse and their offline renderings (HTML with inline scripts, PNG, SVG).

Nothing here loads anything from the network: HTML embeds Vega, Vega-Lite and vega-embed through
vl-convert's JavaScript bundle; PNG and SVG are rendered by vl-convert in-process.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import altair as alt
import polars as pl
import vl_convert

# Vega-Lite refuses more inline rows than this (Altair's MaxRowsError); we thin the series first.
MAX_CHART_ROWS = 5000

# The Vega-Lite version the Altair schema is written for ("v6.4.1" → "6.4"), when vl-convert has it.
_ALTAIR_VL = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
VEGALITE_VERSION: str | None = (
    _ALTAIR_VL if _ALTAIR_VL in vl_convert.get_vegalite_versions() else None
)

AnyChart = alt.Chart | alt.LayerChart | alt.ConcatChart | alt.HConcatChart | alt.VConcatChart


def thin_monthly(frame: pl.DataFrame, max_rows: int = MAX_CHART_ROWS) -> pl.DataFrame:
    """Keep quarter ends (then year ends) of a cumulative monthly series until it fits.

    Cumulative values at the kept months stay exact; only the resolution drops. The last month
    is always kept so the chart ends at today's totals.
    """
    if frame.height <= max_rows:
        return frame
    last = frame["month"].max()
    for months in ((3, 6, 9, 12), (12,)):
        kept = frame.filter(pl.col("month").dt.month().is_in(months) | (pl.col("month") == last))
        if kept.height <= max_rows:
            return kept
    return kept.filter(pl.col("month").dt.month() == 12).tail(max_rows)


def cumulative_chart(frame: pl.DataFrame, *, title: str | None = None) -> alt.Chart:
    """Cumulative repositories per category by creation month: one line per category.

    ``frame`` has the columns of ``warehouse.counts.monthly_counts``: month, layer, category,
    new_repos, cumulative_repos.
    """
    data = thin_monthly(frame.select("month", "layer", "category", "new_repos", "cumulative_repos"))
    return (
        alt.Chart(data, title=title or "Repositories per category, cumulative by creation month")
        # Invisible points give every month a hover target for the tooltip without beading the line.
        .mark_line(point=alt.OverlayMarkDef(size=60, opacity=0), interpolate="monotone")
        .encode(
            x=alt.X(
                "month:T", title="creation month", axis=alt.Axis(format="%Y", tickCount="year")
            ),
            y=alt.Y("cumulative_repos:Q", title="repositories (cumulative)"),
            color=alt.Color(
                "category:N",
                title="category",
                scale=alt.Scale(scheme="tableau10"),
                sort=alt.EncodingSortField("cumulative_repos", op="max", order="descending"),
            ),
            tooltip=[
                alt.Tooltip("month:T", title="month", format="%Y-%m"),
                alt.Tooltip("category:N"),
                alt.Tooltip("layer:N"),
                alt.Tooltip("new_repos:Q", title="new that month"),
                alt.Tooltip("cumulative_repos:Q", title="cumulative"),
            ],
        )
        .properties(width="container", height=380)
    )


def chart_spec(chart: AnyChart) -> dict[str, Any]:
    """The Vega-Lite spec with its data inline."""
    return chart.to_dict()


def _fixed_width(chart: AnyChart, width: int) -> AnyChart:
    """Static renderers have no container to fill: give a container-wide chart a fixed width."""
    if getattr(chart, "width", None) == "container":
        return chart.properties(width=width)
    return chart


def chart_html(chart: AnyChart) -> str:
    """A standalone HTML document showing the chart, scripts inline (works offline, ~0.9 MB)."""
    return vl_convert.vegalite_to_html(
        chart_spec(_fixed_width(chart, 800)), vl_version=VEGALITE_VERSION, bundle=True
    )


def chart_png(chart: AnyChart, *, scale: float = 2.0) -> bytes:
    return vl_convert.vegalite_to_png(
        chart_spec(_fixed_width(chart, 800)), vl_version=VEGALITE_VERSION, scale=scale
    )


def chart_svg(chart: AnyChart) -> str:
    spec = chart_spec(_fixed_width(chart, 800))
    return vl_convert.vegalite_to_svg(spec, vl_version=VEGALITE_VERSION)


@lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one inline script (built once per process, ~1-2 s)."""
    return vl_convert.javascript_bundle(vl_version=VEGALITE_VERSION)


def script_safe_json(value: Any) -> str:
    """JSON that can sit inside a <script> element: no '</' can close the element early."""
    return json.dumps(value, default=str).replace("</", "<\\/")


def embed_snippet(chart: AnyChart, element_id: str) -> str:
    """A <script> that draws ``chart`` into the element with ``element_id`` (needs the bundle)."""
    spec = script_safe_json(chart_spec(chart))
    return (
        "<script>\n"
        f"vegaEmbed({json.dumps('#' + element_id)}, {spec}, "
        '{"renderer": "svg", "actions": {"export": true, "source": false, "compiled": false, '
        '"editor": false}}).catch(console.error);\n'
        "</script>"
    )
