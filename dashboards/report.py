"""The writers' report: headline findings, charts, CSVs, methodology and a citation, in one folder.

Every number the text states is taken from a frame that is written as a CSV of the bundle, so the
text and the CSVs cannot disagree (the tests parse the text and compare). The report is built
from one release (default the latest; the live tables when none is published yet).

Layout of the bundle::

    report.md, report.html      the findings, the charts with alt text, methodology, citation
    charts/<name>.png|.svg      each chart, and <name>-grey.png|.svg for greyscale print
    data/*.csv                  the findings' tables and the data behind each chart
    methodology.json, CITATION.txt
"""

from __future__ import annotations

import html
import io
import json
import logging
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from dashboards.charts import build_chart, chart_png, chart_svg
from dashboards.data import (
    ESTIMATE_COLUMNS,
    ESTIMATED_MEANS,
    LABELLED_MEANS,
    SOURCE,
    ChartContext,
    ChartData,
    chart_context,
    load_chart,
)
from dashboards.exports import csv_text
from dashboards.params import CHART_TITLES, ChartName, ChartParams
from warehouse.analytics import monthly_series
from warehouse.releases import Release, list_releases
from warehouse.reports import new_repositories

log = logging.getLogger(__name__)

DEFAULT_MONTHS = 36  # the period when no --from is given: the last three years of data
TOP_CATEGORIES = 3
TOP_NEW = 10
PNG_SCALE = 2.0


@dataclass(frozen=True)
class ReportRequest:
    release: str | None = None
    start: date | None = None
    end: date | None = None
    threshold: int = 500
    base_url: str = "http://127.0.0.1:8000"


@dataclass
class Findings:
    context: ChartContext
    start: date
    end: date
    layers: pl.DataFrame  # layer, repos_start, repos_end, added, growth_pct
    categories: pl.DataFrame  # category, layer, repos_start, repos_end, added, growth_pct
    new_repos: pl.DataFrame  # full_name, layer, category, subcategory, created, stars
    changes: pl.DataFrame  # layer, previous, current, change
    previous_release: str | None
    methodology: dict[str, Any] = field(default_factory=dict)
    release: Release | None = None

    @property
    def total_start(self) -> int:
        return int(self.layers["repos_start"].sum())

    @property
    def total_end(self) -> int:
        return int(self.layers["repos_end"].sum())


# --- fetch -----------------------------------------------------------------------------------


def _month(value: date) -> date:
    return value.replace(day=1)


def _months_before(value: date, months: int) -> date:
    index = value.year * 12 + value.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def growth_table(
    series: pl.DataFrame, key: str, start: date, end: date
) -> pl.DataFrame:
    """Per group: repositories counted before ``start``, by ``end``, the difference and %."""
    before = (
        series.filter(pl.col("month") < start)
        .sort("month")
        .group_by(key)
        .agg(pl.col("cumulative_repos").last().alias("repos_start"))
    )
    kept = [pl.col("layer").first()] if key != "layer" else []
    until = (
        series.filter(pl.col("month") <= end)
        .sort("month")
        .group_by(key)
        .agg(pl.col("cumulative_repos").last().alias("repos_end"), *kept)
    )
    table = until.join(before, on=key, how="left").with_columns(
        pl.col("repos_start").fill_null(0).cast(pl.Int64),
        pl.col("repos_end").cast(pl.Int64),
    )
    table = table.with_columns((pl.col("repos_end") - pl.col("repos_start")).alias("added"))
    table = table.with_columns(
        pl.when(pl.col("repos_start") > 0)
        .then((pl.col("added") * 100 / pl.col("repos_start")).round(1))
        .otherwise(None)
        .alias("growth_pct")
    )
    columns = [key, "repos_start", "repos_end", "added", "growth_pct"]
    if key != "layer":
        columns.insert(1, "layer")
    return table.select(columns)


def _previous_release(con: duckdb.DuckDBPyConnection, current: str | None) -> str | None:
    ids = [release.id for release in list_releases(con)]  # newest first
    if current is None or current not in ids:
        return None
    index = ids.index(current)
    return ids[index + 1] if index + 1 < len(ids) else None


def _layer_totals(con: duckdb.DuckDBPyConnection, release: str | None) -> pl.DataFrame:
    series = monthly_series(con, by="layer", release=release)
    if series.is_empty():
        return pl.DataFrame(schema={"layer": pl.String, "repos": pl.Int64})
    last = series.filter(pl.col("month") == pl.col("month").max())
    return last.select("layer", pl.col("cumulative_repos").cast(pl.Int64).alias("repos"))


def release_changes(
    con: duckdb.DuckDBPyConnection, current: str | None, previous: str | None
) -> pl.DataFrame:
    now = _layer_totals(con, current).rename({"repos": "current"})
    if previous is None:
        return now.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("previous"), pl.lit(None, dtype=pl.Int64)
            .alias("change"),
        ).select("layer", "previous", "current", "change")  # fmt: skip
    before = _layer_totals(con, previous).rename({"repos": "previous"})
    joined = now.join(before, on="layer", how="full", coalesce=True).with_columns(
        pl.col("current").fill_null(0), pl.col("previous").fill_null(0)
    )
    return joined.with_columns((pl.col("current") - pl.col("previous")).alias("change")).select(
        "layer", "previous", "current", "change"
    )


def gather_findings(con: duckdb.DuckDBPyConnection, request: ReportRequest) -> Findings:
    context = chart_context(con, ChartParams(release=request.release), request.threshold)
    release = _release_record(con, context.release)
    end = _month(request.end or context.data_date or date.today())
    start = _month(request.start or _months_before(end, DEFAULT_MONTHS - 1))
    layer_series = monthly_series(con, by="layer", release=context.release)
    category_series = monthly_series(con, by="category", release=context.release)
    layers = growth_table(layer_series, "layer", start, end).sort("repos_end", descending=True)
    categories = growth_table(category_series, "category", start, end).sort(
        ["growth_pct", "added", "category"], descending=[True, True, False], nulls_last=True
    )
    previous = _previous_release(con, context.release)
    return Findings(
        context=context, start=start, end=end, layers=layers, categories=categories,
        new_repos=new_repositories(con, start=start, end=end, limit=TOP_NEW,
                                   release=context.release),
        changes=release_changes(con, context.release, previous), previous_release=previous,
        methodology=dict(release.methodology) if release else {}, release=release,
    )  # fmt: skip


def _release_record(con: duckdb.DuckDBPyConnection, release_id: str | None) -> Release | None:
    if release_id is None:
        return None
    return next((r for r in list_releases(con) if r.id == release_id), None)


# --- text ------------------------------------------------------------------------------------


def n(value: object) -> str:
    """An integer as the text states it: thousands separated by commas."""
    return f"{int(value):,}"  # type: ignore[call-overload]


def pct(value: object) -> str:
    return "n/a" if value is None else f"{float(value):+.1f}%"  # type: ignore[arg-type]


def month_text(value: date) -> str:
    return value.strftime("%Y-%m")


def headline_findings(findings: Findings) -> list[str]:
    """The bullet points of the report; every number is a cell of one of the findings' CSVs."""
    period = f"{month_text(findings.start)} to {month_text(findings.end)}"
    lines = [
        f"Total: {n(findings.total_end)} AI repositories with ≥{findings.context.threshold:,} "
        f"stars by {month_text(findings.end)}, up from {n(findings.total_start)} before "
        f"{month_text(findings.start)} (layers.csv).",
    ]
    for row in findings.layers.iter_rows(named=True):
        lines.append(
            f"Layer {row['layer']}: {n(row['repos_end'])} repositories, {n(row['added'])} added "
            f"over {period} ({pct(row['growth_pct'])}) (layers.csv)."
        )
    growing = findings.categories.filter(pl.col("growth_pct").is_not_null()).head(TOP_CATEGORIES)
    for rank, row in enumerate(growing.iter_rows(named=True), start=1):
        lines.append(
            f"Fastest-growing category #{rank}: {row['category']} ({row['layer']}), "
            f"{n(row['repos_start'])} → {n(row['repos_end'])} ({pct(row['growth_pct'])}) "
            "(categories.csv)."
        )
    for row in findings.new_repos.head(3).iter_rows(named=True):
        lines.append(
            f"Big new repository: {row['full_name']} ({row['category']}), created "
            f"{row['created']}, {n(row['stars'])} stars (new_repositories.csv)."
        )
    lines += _change_lines(findings)
    return lines


def _change_lines(findings: Findings) -> list[str]:
    if findings.previous_release is None:
        return ["Changes since the previous release: none to compare, this is the first "
                "release (changes.csv)."]  # fmt: skip
    return [
        f"Since release {findings.previous_release}: layer {row['layer']} "
        f"{n(row['previous'])} → {n(row['current'])} ({int(row['change']):+,}) (changes.csv)."
        for row in findings.changes.iter_rows(named=True)
    ]


# --- charts ----------------------------------------------------------------------------------

REPORT_CHARTS: tuple[tuple[str, ChartName, dict[str, Any]], ...] = (
    ("stack-category", "stack", {"level": "category"}),
    ("share-layer", "share", {"level": "layer"}),
    ("new-layer", "new", {"level": "layer"}),
)


@dataclass(frozen=True)
class ReportChart:
    slug: str
    data: ChartData
    alt: str


def alt_text(data: ChartData) -> str:
    """A sentence a screen reader can read in place of the chart, with its newest values."""
    frame = data.frame
    if frame.is_empty():
        return f"{data.name} chart with no data."
    first, last = month_text(frame["month"].min()), month_text(frame["month"].max())
    newest = frame.filter(pl.col("month") == frame["month"].max())
    level = data.params.level
    if data.name == "share":
        ranked = newest.sort("share", descending=True)
        values = ", ".join(f"{g} {s * 100:.1f}%" for g, s in zip(ranked["group"], ranked["share"],
                                                                  strict=True))  # fmt: skip
        return (f"Stacked area chart of each {level}'s share of AI repositories, {first} to "
                f"{last}. In {last}: {values}.")  # fmt: skip
    if data.name == "new":
        monthly = frame.group_by("month").agg(pl.col("new_repos").sum()).sort(
            ["new_repos", "month"], descending=[True, False])  # fmt: skip
        peak = monthly.row(0, named=True)
        return (f"Stacked bar chart of new AI repositories per month by {level}, {first} to "
                f"{last}. The busiest month was {month_text(peak['month'])} with "
                f"{n(peak['new_repos'])} new repositories.")  # fmt: skip
    ranked = newest.sort("cumulative_repos", descending=True)
    values = ", ".join(f"{g} {n(c)}" for g, c in zip(ranked["group"], ranked["cumulative_repos"],
                                                      strict=True))  # fmt: skip
    text = (f"Line chart of cumulative AI repositories per {level}, {first} to {last}. "
            f"In {last}: {values}.")  # fmt: skip
    return text + _estimate_alt(data, ranked, last)


def _estimate_alt(data: ChartData, newest: pl.DataFrame, last: str) -> str:
    """The estimates' sentence of the alt text: each estimate and its interval, newest month."""
    if not data.estimated:
        return ""
    estimate, lo, hi = ESTIMATE_COLUMNS
    rows = newest.filter(pl.col(estimate).is_not_null()).iter_rows(named=True)
    values = ", ".join(f"{r['group']} {r[estimate]:,.0f} ({r[lo]:,.0f}–{r[hi]:,.0f})" for r in rows)
    return (f" Dashed lines with shaded bands: estimated counts corrected for the classifier's "
            f"confusion, with their interval; in {last}: {values}.")  # fmt: skip


def report_charts(
    con: duckdb.DuckDBPyConnection, findings: Findings, threshold: int
) -> list[ReportChart]:
    charts = []
    for slug, name, options in REPORT_CHARTS:
        params = ChartParams(
            release=findings.context.release, start=findings.start, end=findings.end, **options
        )
        data = load_chart(con, name, params, threshold)
        charts.append(ReportChart(slug, data, alt_text(data)))
    return charts


def write_chart_files(chart: ReportChart, folder: Path) -> None:
    grey = replace(chart.data, params=chart.data.params.greyscale())
    for suffix, data in (("", chart.data), ("-grey", grey)):
        drawn = build_chart(data)
        (folder / f"{chart.slug}{suffix}.png").write_bytes(chart_png(drawn, scale=PNG_SCALE))
        (folder / f"{chart.slug}{suffix}.svg").write_text(chart_svg(drawn), encoding="utf-8")


# --- documents -------------------------------------------------------------------------------

Block = tuple[str, Any]


def citation(findings: Findings, base_url: str) -> str:
    context = findings.context
    day = context.data_date.isoformat() if context.data_date else "unknown"
    if context.release is None:
        return (f"{SOURCE}, live data (no release published), data to {day}. "
                "Figures from live data may change: cite a release.")  # fmt: skip
    published = findings.release.published_at.strftime("%Y-%m-%d") if findings.release else "?"
    return (f"{SOURCE}, release {context.release} (published {published}, data to {day}), "
            f"{base_url}/v1/releases/{context.release}.")  # fmt: skip


def methodology_lines(methodology: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The release's methodology record as flat 'key: value' lines (nested keys dotted)."""
    lines: list[str] = []
    for key, value in methodology.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            lines += methodology_lines(value, f"{name}.")
        elif isinstance(value, list | tuple):
            lines.append(f"{name}: {', '.join(str(v) for v in value) or '—'}")
        else:
            lines.append(f"{name}: {value}")
    return lines


def estimate_text(context: ChartContext) -> str:
    """The methodology's paragraph on the estimated counts: method, interval level, model
    version and how many labels a person confirmed (all in methodology.json too)."""
    confirmed = context.confirmed_text() or "no labels"
    served = context.estimates
    if served is None:
        return (f"Estimated counts: none in release {context.release_label}; the charts show "
                f"labelled counts only, counted from each repository's label. Labels: "
                f"{confirmed}.")  # fmt: skip
    level = f"{served.interval_level:.0%}" if served.interval_level else "unrecorded"
    return (f"Estimated counts: the cumulative chart by category draws, beside each labelled "
            f"count (solid, {LABELLED_MEANS}), an estimate of the true count {ESTIMATED_MEANS} "
            f"(dashed) with its interval (shaded). Estimation method: {served.method}; "
            f"interval level: {level}; model version: {served.model_version}; computed "
            f"{served.computed_at.strftime('%Y-%m-%d %H:%M')}. Human-confirmed labels, counted "
            f"as certain: {confirmed}. The estimate columns of data/chart-stack-category.csv "
            f"hold the drawn values.")  # fmt: skip


def estimate_record(context: ChartContext) -> dict[str, Any]:
    """The same facts for methodology.json."""
    served = context.estimates
    return {
        "estimates": None if served is None else {
            "method": served.method, "interval_level": served.interval_level,
            "model_version": served.model_version, "computed_at": served.computed_at,
        },
        "human_confirmed": context.human_confirmed, "labels": context.labels,
    }  # fmt: skip


def report_blocks(
    findings: Findings, charts: Sequence[ReportChart], request: ReportRequest
) -> list[Block]:
    context = findings.context
    blocks: list[Block] = [
        ("h1", f"The AI stack on GitHub, {month_text(findings.start)} to "
               f"{month_text(findings.end)}"),
        ("p", f"Repositories with at least {context.threshold:,} stars, classified into the "
              f"layers of the AI stack. Release {context.release_label}; data to "
              f"{context.data_date.isoformat() if context.data_date else 'unknown'}."),
        ("h2", "Headline findings"),
        ("ul", headline_findings(findings)),
        ("h2", "Charts"),
    ]  # fmt: skip
    for chart in charts:
        caption = f"{CHART_TITLES[chart.data.name]}. {chart.data.context.caption()}"
        blocks.append(("img", (f"charts/{chart.slug}.png", chart.alt, caption)))
        blocks.append(("p", f"Files: charts/{chart.slug}.svg (vector), charts/{chart.slug}"
                            f"-grey.png and -grey.svg (greyscale), data/chart-{chart.slug}.csv "
                            "(the data)."))  # fmt: skip
    blocks += [
        ("h2", "Methodology"),
        ("p", "Collection: GitHub's search API, queries split by creation date so that each "
              "slice returns every match; a repository is counted once by its GitHub id. "
              "Classification: a trained model, an LLM where the model is unsure, and human "
              "labels that win over both. Counting: by creation month (the book's method) "
              "unless stated; lines stop at the data date."),
        ("p", estimate_text(context)),
        ("ul", methodology_lines(findings.methodology) or
               ["No release record: these figures come from the live tables."]),
        ("h2", "Citation"),
        ("code", citation(findings, request.base_url)),
        ("h2", "Files"),
        ("ul", ["data/layers.csv, data/categories.csv, data/new_repositories.csv, "
                "data/changes.csv: the tables behind the findings",
                "methodology.json: the release record; CITATION.txt: the citation"]),
    ]  # fmt: skip
    return blocks


def render_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for kind, payload in blocks:
        if kind == "h1":
            out.append(f"# {payload}")
        elif kind == "h2":
            out.append(f"## {payload}")
        elif kind == "p":
            out.append(str(payload))
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in payload))
        elif kind == "img":
            path, alt, caption = payload
            out.append(f"![{alt}]({path})\n\n*{caption}*")
        elif kind == "code":
            out.append(f"```\n{payload}\n```")
    return "\n\n".join(out) + "\n"


_HTML_STYLE = """body{font-family:system-ui,sans-serif;max-width:860px;margin:2rem auto;
padding:0 1rem;line-height:1.5;color:#1d1d1d}img{max-width:100%;height:auto;border:1px solid #eee}
pre{white-space:pre-wrap;background:#f5f5f5;padding:.6rem}li{margin:.2rem 0}"""


def render_html(blocks: Sequence[Block], title: str) -> str:
    esc = html.escape
    out: list[str] = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "p"):
            out.append(f"<{kind}>{esc(str(payload))}</{kind}>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{esc(str(i))}</li>" for i in payload) + "</ul>")
        elif kind == "img":
            path, alt, caption = payload
            out.append(f"<figure><img src='{esc(path)}' alt='{esc(alt)}'>"
                       f"<figcaption>{esc(caption)}</figcaption></figure>")  # fmt: skip
        elif kind == "code":
            out.append(f"<pre>{esc(str(payload))}</pre>")
    body = "\n".join(out)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>{esc(title)}</title><style>"
            f"{_HTML_STYLE}</style></head><body>\n{body}\n</body></html>\n")  # fmt: skip


# --- the bundle ------------------------------------------------------------------------------


def build_report(
    con: duckdb.DuckDBPyConnection, out: Path, request: ReportRequest
) -> Findings:
    """Write the whole bundle into ``out`` (created if needed); returns the findings."""
    findings = gather_findings(con, request)
    charts = report_charts(con, findings, request.threshold)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(parents=True, exist_ok=True)
    findings.layers.write_csv(out / "data" / "layers.csv")
    findings.categories.write_csv(out / "data" / "categories.csv")
    findings.new_repos.write_csv(out / "data" / "new_repositories.csv")
    findings.changes.write_csv(out / "data" / "changes.csv")
    for chart in charts:
        (out / "data" / f"chart-{chart.slug}.csv").write_text(csv_text(chart.data), "utf-8")
        write_chart_files(chart, out / "charts")
    blocks = report_blocks(findings, charts, request)
    title = str(blocks[0][1])
    (out / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    (out / "report.html").write_text(render_html(blocks, title), encoding="utf-8")
    record = {
        "release": findings.context.release, "data_date": findings.context.data_date,
        "period": {"from": month_text(findings.start), "to": month_text(findings.end)},
        "methodology": findings.methodology, "counts": estimate_record(findings.context),
    }  # fmt: skip
    (out / "methodology.json").write_text(
        json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8"
    )
    (out / "CITATION.txt").write_text(citation(findings, request.base_url) + "\n", "utf-8")
    log.info("wrote the report for release %s to %s", findings.context.release_label, out)
    return findings


def zip_folder(folder: Path, prefix: str) -> bytes:
    """The folder as a zip (entries under ``prefix/``, fixed timestamps: same input, same zip)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{prefix}/{path.relative_to(folder)}", (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, path.read_bytes())
    return buffer.getvalue()
