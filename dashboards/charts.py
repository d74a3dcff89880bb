"""Altair charts of the warehouse and their offline renderings (Vega-Lite JSON, PNG, SVG).

Nothing here loads anything from the network: PNG and SVG are rendered by vl-convert in-process,
and the pages load Vega, Vega-Lite and vega-embed from the app (vl-convert's JavaScript bundle).

Every chart carries its own caption (threshold, data date, release, source) in its subtitle, uses
the Okabe-Ito colour-blind-safe palette plus a dash pattern per line (so a greyscale print still
tells the lines apart), and lets a click on a legend entry isolate that group.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date
from functools import lru_cache
from typing import Any

import altair as alt
import polars as pl
import vl_convert

from dashboards.data import (
    ESTIMATE_COLUMNS,
    ESTIMATED_MEANS,
    LABELLED_MEANS,
    ChartData,
    group_order,
    interval_text,
)
from dashboards.params import CHART_TITLES

# The Vega-Lite version the Altair schema is written for ("v6.4.1" → "6.4"), when vl-convert has it.
_ALTAIR_VL = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
VEGALITE_VERSION: str | None = (
    _ALTAIR_VL if _ALTAIR_VL in vl_convert.get_vegalite_versions() else None
)

AnyChart = alt.Chart | alt.LayerChart | alt.ConcatChart | alt.HConcatChart | alt.VConcatChart

# Okabe & Ito (2008), ordered so that the first lines get the most distinct hues; yellow last.
OKABE_ITO = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442",
)  # fmt: skip
GREYS = ("#000000", "#3d3d3d", "#5e5e5e", "#7a7a7a", "#949494", "#adadad", "#222222", "#c4c4c4")
DASHES = ([1, 0], [6, 3], [2, 2], [10, 3, 2, 3], [4, 4], [1, 4], [12, 4], [6, 2, 2, 2])

# Moments that frame the curves; only those inside the drawn range are shown.
LANDMARKS: tuple[tuple[date, str], ...] = (
    (date(2017, 6, 12), "Transformer paper"),
    (date(2020, 6, 11), "GPT-3 API"),
    (date(2022, 11, 30), "ChatGPT"),
    (date(2023, 2, 24), "LLaMA"),
)

# The stack chart's two kinds of line when estimates are drawn (a legend of their own).
LABELLED = "labelled"
SERIES_DASHES = ([1, 0], [6, 3])
BAND_OPACITY = 0.16
CUMULATIVE_TITLE = "repositories (cumulative)"

EXPORT_WIDTH = 800
EXPORT_HEIGHT = 420
PAGE_HEIGHT = 380
SUBTITLE_WIDTH = 55  # characters
LEVEL_TITLES = {"layer": "layer", "category": "category", "subcategory": "subcategory"}


def build_chart(data: ChartData) -> AnyChart:
    """The chart for ``data`` (its name picks the kind), titled and captioned."""
    builders = {"stack": _stack_chart, "share": _share_chart, "new": _new_chart,
                "stars": _stars_chart}  # fmt: skip
    chart = builders[data.name](data)
    return _finish(chart, data)


def _subtitle(data: ChartData) -> list[str]:
    """Short lines (a 390 px phone shows ~55 characters): what, how counted, the caption."""
    params = data.params
    if data.name == "stars":
        return [f"{params.repo}: stars at each crawl", *data.context.caption_lines()]
    level = LEVEL_TITLES[params.level]
    what = {
        "stack": f"Cumulative repositories per {level}",
        "share": f"Share of repositories per {level}",
        "new": f"New repositories per {level} and month",
    }[data.name]
    how = (
        "counted by creation month"
        if params.basis == "created"
        else f"counted by the month they reached {data.context.threshold:,} stars"
    )
    return [what, how, *_estimate_lines(data), *data.context.caption_lines()]


def estimated_title(data: ChartData) -> str:
    """The legend entry of the estimate: e.g. "estimated, 90% interval shaded"."""
    served = data.context.estimates
    return f"estimated, {interval_text(served) if served else 'interval'} shaded"


def _estimate_lines(data: ChartData) -> list[str]:
    """Which line is which, when the estimate is drawn beside the labelled count."""
    served = data.context.estimates
    if not data.estimated or served is None:
        return []
    estimated = (f"Dashed, shaded: estimated, {ESTIMATED_MEANS}, {interval_text(served)}, "
                 f"method {served.method}, model version {served.model_version}")  # fmt: skip
    # Short lines: a 390 px phone shows about 55 characters of subtitle.
    return [f"Solid: labelled, {LABELLED_MEANS}", *textwrap.wrap(estimated, SUBTITLE_WIDTH)]


def _finish(chart: AnyChart, data: ChartData) -> AnyChart:
    title = alt.Title(
        CHART_TITLES[data.name], subtitle=_subtitle(data), anchor="start", fontSize=16,
        subtitleFontSize=11, subtitleColor="#444", offset=8,
    )  # fmt: skip
    return (
        chart.properties(title=title, width="container", height=PAGE_HEIGHT)
        .configure_legend(orient="bottom", columns=4, labelLimit=180, symbolStrokeWidth=2.5)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=12)
    )


def _palette(data: ChartData) -> tuple[str, ...]:
    return GREYS if data.params.theme == "grey" else OKABE_ITO


def _group_scale(data: ChartData) -> tuple[list[str], alt.Scale]:
    """The groups in their fixed order and their colours."""
    groups = group_order(data.frame)
    return groups, alt.Scale(domain=groups, range=list(_palette(data)[: len(groups)]))


def _group_legend(**options: Any) -> alt.Legend:
    # The taxonomy's layer "none" holds tutorials and lists: say so where a reader meets it.
    return alt.Legend(
        labelExpr="datum.label === 'none' ? 'none (tutorials, lists)' : datum.label", **options
    )


def _group_encodings(data: ChartData, *, dashes: bool) -> dict[str, Any]:
    """Colour (and dash) per group with a fixed order, plus the legend-bound isolation."""
    groups, colours = _group_scale(data)
    title = LEVEL_TITLES[data.params.level]
    legend = _group_legend()
    encodings: dict[str, Any] = {
        "color": alt.Color("group:N", title=title, sort=groups, legend=legend, scale=colours),
    }
    if dashes:
        encodings["strokeDash"] = alt.StrokeDash(
            "group:N", title=title, sort=groups, legend=legend,
            scale=alt.Scale(domain=groups, range=list(DASHES[: len(groups)])),
        )  # fmt: skip
    return encodings


def _isolate() -> alt.Parameter:
    return alt.selection_point(fields=["group"], bind="legend", name="isolate")


def _month_title(data: ChartData) -> str:
    return "creation month" if data.params.basis == "created" else "month it reached the threshold"


def _month_axis(data: ChartData) -> alt.X:
    axis = alt.Axis(format="%Y", tickCount="year", grid=False)
    return alt.X("month:T", title=_month_title(data), axis=axis)


def _tooltips(*extra: alt.Tooltip) -> list[alt.Tooltip]:
    return [
        alt.Tooltip("month:T", title="month", format="%Y-%m"),
        alt.Tooltip("group:N", title="group"),
        *extra,
    ]


def _landmarks(data: ChartData) -> alt.LayerChart | None:
    if data.frame.is_empty():
        return None
    first, last = data.frame["month"].min(), data.frame["month"].max()
    shown = [(d, t) for d, t in LANDMARKS if first <= d <= last]
    # Staggered rows keep the labels of close landmarks (ChatGPT, LLaMA) from overlapping.
    rows = [
        {"day": day.isoformat(), "label": text, "row": index % 3 * 12}
        for index, (day, text) in enumerate(shown)
    ]
    if not rows:
        return None
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("day:T"))
    rule = base.mark_rule(color="#777", strokeDash=[3, 3], strokeWidth=1)
    text = base.mark_text(
        align="left", baseline="top", dx=3, dy=2, fontSize=10, color="#555"
    ).encode(text="label:N", y=alt.Y("row:Q", scale=None, axis=None))
    return alt.layer(rule, text)


def _with_landmarks(chart: alt.Chart, data: ChartData) -> AnyChart:
    landmarks = _landmarks(data)
    return chart if landmarks is None else alt.layer(chart, landmarks)


def _drawn(frame: pl.DataFrame, *values: str) -> pl.DataFrame:
    """Only the columns a chart draws (the CSV keeps them all): a smaller spec to send."""
    return frame.select(pl.col("month").dt.strftime("%Y-%m-%d"), "group", *values)


def _stack_chart(data: ChartData) -> AnyChart:
    isolate = _isolate()
    frame = data.frame
    log = data.params.yscale == "log"
    if log:  # a log axis has no zero: months before a group's first repository are left out
        frame = frame.filter(pl.col("cumulative_repos") > 0)
    y_scale = alt.Scale(type="log") if log else alt.Scale(type="linear", zero=True)
    if data.estimated:
        return _with_landmarks(_estimated_stack(data, frame, y_scale, isolate), data)
    chart = (
        alt.Chart(_drawn(frame, "new_repos", "cumulative_repos"))
        # A line of one month draws nothing: with few months every value gets a dot.
        .mark_line(strokeWidth=2.2, point=frame["month"].n_unique() < 3)
        .encode(
            x=_month_axis(data),
            y=alt.Y("cumulative_repos:Q", title=CUMULATIVE_TITLE, scale=y_scale),
            opacity=alt.when(isolate).then(alt.value(1)).otherwise(alt.value(0.12)),
            tooltip=_tooltips(*_stack_tooltips()),
            **_group_encodings(data, dashes=True),
        )
        .add_params(isolate)
    )
    return _with_landmarks(chart, data)


def _stack_tooltips(*, estimated: bool = False) -> list[alt.Tooltip]:
    tips = [
        alt.Tooltip("new_repos:Q", title="new that month", format=","),
        alt.Tooltip("cumulative_repos:Q", title="cumulative, labelled", format=","),
    ]
    if estimated:
        tips += [
            alt.Tooltip(f"{ESTIMATE_COLUMNS[0]}:Q", title="cumulative, estimated", format=",.0f"),
            alt.Tooltip(f"{ESTIMATE_COLUMNS[1]}:Q", title="interval from", format=",.0f"),
            alt.Tooltip(f"{ESTIMATE_COLUMNS[2]}:Q", title="interval to", format=",.0f"),
        ]
    return tips


def _estimated_stack(
    data: ChartData, frame: pl.DataFrame, y_scale: alt.Scale, isolate: alt.Parameter
) -> alt.LayerChart:
    """Per group: the labelled cumulative count (solid), the estimate (dashed) and its interval
    (a shaded band). Colour tells the groups apart, the dash which count a line is."""
    if data.params.yscale == "log":  # a zero has no place on a log axis
        frame = frame.with_columns(
            pl.when(pl.col(c) > 0).then(pl.col(c)).alias(c) for c in ESTIMATE_COLUMNS
        )
    estimated = estimated_title(data)
    # Above the plot, in a row of its own: beside the groups' legend it would not fit a phone.
    series = alt.StrokeDash(
        "series:N", sort=[LABELLED, estimated],
        scale=alt.Scale(domain=[LABELLED, estimated], range=list(SERIES_DASHES)),
        legend=alt.Legend(title=None, orient="top", direction="horizontal", columns=2,
                          symbolType="stroke"),
    )  # fmt: skip
    groups, colours = _group_scale(data)
    # One legend for the lines' colour and the bands' fill, drawn as a line of full colour.
    legend = _group_legend(symbolType="stroke", symbolOpacity=1)
    colour = alt.Color("group:N", title=LEVEL_TITLES[data.params.level], sort=groups,
                       legend=legend, scale=colours)  # fmt: skip
    band = alt.Chart().mark_area().encode(
        y=alt.Y(f"{ESTIMATE_COLUMNS[1]}:Q", title=CUMULATIVE_TITLE, scale=y_scale),
        y2=alt.Y2(f"{ESTIMATE_COLUMNS[2]}:Q"),
        opacity=alt.when(isolate).then(alt.value(BAND_OPACITY)).otherwise(alt.value(0.03)),
    )
    dashed = alt.Chart().mark_line(strokeWidth=1.6).encode(
        y=alt.Y(f"{ESTIMATE_COLUMNS[0]}:Q", title=CUMULATIVE_TITLE, scale=y_scale),
        strokeDash=series,
        opacity=alt.when(isolate).then(alt.value(1)).otherwise(alt.value(0.12)),
    ).transform_calculate(series=json.dumps(estimated))
    solid = (
        alt.Chart()
        .mark_line(strokeWidth=2.2, point=frame["month"].n_unique() < 3)
        .encode(
            y=alt.Y("cumulative_repos:Q", title=CUMULATIVE_TITLE, scale=y_scale),
            strokeDash=series,
            opacity=alt.when(isolate).then(alt.value(1)).otherwise(alt.value(0.12)),
        )
        .transform_calculate(series=json.dumps(LABELLED))
        .add_params(isolate)
    )
    # What the layers share (data, x, colour, tooltips) is stated once, on the layer.
    return alt.layer(
        band, dashed, solid, data=_drawn(frame, "new_repos", "cumulative_repos", *ESTIMATE_COLUMNS)
    ).encode(x=_month_axis(data), color=colour,
             tooltip=_tooltips(*_stack_tooltips(estimated=True)))  # fmt: skip


def _share_chart(data: ChartData) -> AnyChart:
    isolate = _isolate()
    groups = group_order(data.frame)
    chart = (
        alt.Chart(_drawn(data.frame, "share", "cumulative_repos"))
        .mark_area(line={"strokeWidth": 0.5, "color": "white"})
        .encode(
            x=_month_axis(data),
            y=alt.Y("share:Q", title="share of repositories", stack="zero",
                    axis=alt.Axis(format="%")),
            order=alt.Order("group_rank:Q"),
            opacity=alt.when(isolate).then(alt.value(0.95)).otherwise(alt.value(0.15)),
            tooltip=_tooltips(
                alt.Tooltip("share:Q", title="share", format=".1%"),
                alt.Tooltip("cumulative_repos:Q", title="repositories", format=","),
            ),
            **_group_encodings(data, dashes=False),
        )
        .transform_calculate(group_rank=f"indexof({json.dumps(groups)}, datum.group)")
        .add_params(isolate)
    )
    return _with_landmarks(chart, data)


def _new_chart(data: ChartData) -> AnyChart:
    isolate = _isolate()
    groups = group_order(data.frame)
    chart = (
        alt.Chart(_drawn(data.frame, "new_repos"))
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):T", title=_month_title(data),
                    axis=alt.Axis(format="%Y", tickCount="year", grid=False)),
            y=alt.Y("new_repos:Q", title="new repositories", stack="zero"),
            order=alt.Order("group_rank:Q"),
            opacity=alt.when(isolate).then(alt.value(1)).otherwise(alt.value(0.15)),
            tooltip=_tooltips(alt.Tooltip("new_repos:Q", title="new that month", format=",")),
            **_group_encodings(data, dashes=False),
        )
        .transform_calculate(group_rank=f"indexof({json.dumps(groups)}, datum.group)")
        .add_params(isolate)
    )
    return _with_landmarks(chart, data)


def _stars_chart(data: ChartData) -> AnyChart:
    color = _palette(data)[0]
    base = alt.Chart(data.frame).encode(
        x=alt.X("observed_on:T", title="crawl date", axis=alt.Axis(format="%Y-%m-%d")),
        y=alt.Y("stars:Q", title="stars", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("observed_on:T", title="date", format="%Y-%m-%d"),
                 alt.Tooltip("stars:Q", format=",")],
    )  # fmt: skip
    return alt.layer(base.mark_line(color=color, strokeWidth=2.2), base.mark_point(color=color))


def chart_spec(chart: AnyChart) -> dict[str, Any]:
    """The Vega-Lite spec with its data inline.

    Not validated against the schema per request (a third of a cold render): the tests validate
    every kind of chart once.
    """
    return chart.to_dict(validate=False)


def static_spec(chart: AnyChart, width: int = EXPORT_WIDTH) -> dict[str, Any]:
    """The spec with a fixed size: static renderers have no container to fill."""
    spec = chart_spec(chart)
    spec["width"] = width
    spec["height"] = EXPORT_HEIGHT
    return spec


def chart_png(chart: AnyChart, *, scale: float = 1.0, ppi: float = 72) -> bytes:
    return vl_convert.vegalite_to_png(
        static_spec(chart), vl_version=VEGALITE_VERSION, scale=scale, ppi=ppi
    )


def chart_svg(chart: AnyChart) -> str:
    return vl_convert.vegalite_to_svg(static_spec(chart), vl_version=VEGALITE_VERSION)


@lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (built once per process, ~1-2 s)."""
    return vl_convert.javascript_bundle(vl_version=VEGALITE_VERSION)


def script_safe_json(value: Any) -> str:
    """JSON that can sit inside a <script> element: no '</' can close the element early."""
    return json.dumps(value, default=str).replace("</", "<\\/")
