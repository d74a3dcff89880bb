"""The data behind each chart, fetched from the warehouse's analytics (never from the API).

A chart's frame is exactly what its CSV export holds: aggregated in DuckDB, at most
``MAX_CHART_ROWS`` rows, with at most ``MAX_GROUPS`` named groups (the rest summed as one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import duckdb
import polars as pl

from dashboards.params import ChartName, ChartParams
from stackatlas.errors import NotFoundError
from warehouse.analytics import (
    data_date,
    ensure_analytics,
    monthly_series,
    shares,
    unknown_crossing,
)
from warehouse.db import fetch_dicts
from warehouse.estimates import (
    ServedEstimates,
    human_confirmed,
    labels_in_force,
    monthly_estimates,
    served_estimates,
)
from warehouse.queries import data_version, latest_observations
from warehouse.releases import Release, get_release, latest_release
from warehouse.repos import find_repository

# Vega-Lite refuses more inline rows than this (Altair's MaxRowsError); we aggregate first.
MAX_CHART_ROWS = 5000
# Seven named lines plus "all others" keep every group on a distinct colour-blind-safe colour.
MAX_GROUPS = 8
REST = "all others"
SOURCE = "stackatlas"

_STAR_SERIES_LIMIT = 2000

# How captions, pages and the report tell the two counts apart.
LABELLED_MEANS = "counted from each repository's label"
ESTIMATED_MEANS = "corrected for the classifier's measured confusion"


def interval_text(served: ServedEstimates) -> str:
    """e.g. "90% interval" (just "interval" when its level was not recorded)."""
    return f"{served.interval_level:.0%} interval" if served.interval_level else "interval"


# The estimate columns of a stack chart's frame (and CSV): cumulative, beside cumulative_repos.
ESTIMATE_COLUMNS = ("estimated_cumulative", "estimated_cumulative_lo", "estimated_cumulative_hi")


@dataclass(frozen=True)
class ChartContext:
    """What the caption of a chart states: threshold, the data's date and the release."""

    threshold: int
    data_date: date | None
    release: str | None  # None: live tables, no release published yet
    unknown_crossing: int | None = None  # crossed basis: counted repos whose month is unknown
    estimates: ServedEstimates | None = None  # the estimated counts of that release, if any
    human_confirmed: int | None = None  # labels a person gave or confirmed
    labels: int | None = None  # labels in force (None: not stated, e.g. a repository's stars)

    @property
    def release_label(self) -> str:
        return self.release or "live (unreleased)"

    def confirmed_text(self) -> str | None:
        """e.g. "12 of 1,034 labels human-confirmed"; None when not stated."""
        if self.labels is None or self.human_confirmed is None:
            return None
        return f"{self.human_confirmed:,} of {self.labels:,} labels human-confirmed"

    def caption_lines(self) -> list[str]:
        day = self.data_date.isoformat() if self.data_date else "no data yet"
        lines = [
            f"Repositories with ≥{self.threshold:,} stars · data to {day}",
            f"Release {self.release_label} · source: {SOURCE}",
        ]
        if self.unknown_crossing:
            lines.append(f"{self.unknown_crossing:,} with an unknown crossing month not drawn")
        if confirmed := self.confirmed_text():
            lines.append(confirmed)
        return lines

    def caption(self) -> str:
        return " · ".join(self.caption_lines())


@dataclass(frozen=True)
class ChartData:
    name: ChartName
    params: ChartParams
    frame: pl.DataFrame
    context: ChartContext

    @property
    def estimated(self) -> bool:
        """Whether the frame holds estimated counts to draw (the stack chart by category)."""
        return ESTIMATE_COLUMNS[0] in self.frame.columns and bool(
            self.frame[ESTIMATE_COLUMNS[0]].is_not_null().any()
        )


def resolve_release(con: duckdb.DuckDBPyConnection, release: str | None) -> Release | None:
    """The asked release (NotFoundError when unknown), or the latest one (None when none yet)."""
    return latest_release(con) if release is None else get_release(con, release)


def render_version(con: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    """Changes whenever a drawn figure may: the data, the analytics refresh, a new release, a
    new estimate of the counts."""
    ensure_analytics(con)
    refreshed = fetch_dicts(con, "SELECT max(refreshed_at) AS at FROM analytics_meta")
    latest = latest_release(con)
    estimated = served_estimates(con)
    return (*data_version(con), refreshed[0]["at"], latest.id if latest else None,
            estimated.computed_at if estimated else None)  # fmt: skip


def chart_context(
    con: duckdb.DuckDBPyConnection, params: ChartParams, threshold: int
) -> ChartContext:
    ensure_analytics(con)
    release = resolve_release(con, params.release)
    release_id = release.id if release else None
    methodology = release.methodology if release else {}
    stated = methodology.get("threshold") if isinstance(methodology, dict) else None
    return ChartContext(
        threshold=int(stated) if isinstance(stated, int) else threshold,
        data_date=data_date(con, release_id),
        release=release_id,
        estimates=served_estimates(con, release_id),
        human_confirmed=human_confirmed(con, release_id),
        labels=labels_in_force(con, release_id),
    )


def load_chart(
    con: duckdb.DuckDBPyConnection, name: ChartName, params: ChartParams, threshold: int
) -> ChartData:
    context = chart_context(con, params, threshold)
    if params.basis == "crossed" and name != "stars":
        unknown = unknown_crossing(
            con, layers=list(params.layers) or None,
            categories=list(params.categories) or None, release=context.release,
        )  # fmt: skip
        context = replace(context, unknown_crossing=unknown)
    if name == "stars":  # one repository's stars: the label tally says nothing about it
        context = replace(context, human_confirmed=None, labels=None)
    loaders = {"stack": _stack, "new": _stack, "share": _share, "stars": _stars}
    frame = loaders[name](con, params, context.release)
    if name == "stack" and params.draws_estimates and context.estimates is not None:
        frame = with_estimates(frame, _estimates(con, params, context.release))
    return ChartData(name=name, params=params, frame=frame, context=context)


def _estimates(
    con: duckdb.DuckDBPyConnection, params: ChartParams, release: str | None
) -> pl.DataFrame:
    frame = monthly_estimates(con, release=release, start=params.start, end=params.end)
    if params.layers:
        frame = frame.filter(pl.col("layer").is_in(list(params.layers)))
    if params.categories:
        frame = frame.filter(pl.col("category").is_in(list(params.categories)))
    return frame


def with_estimates(frame: pl.DataFrame, estimates: pl.DataFrame) -> pl.DataFrame:
    """The labelled frame (one row per month and category) with each category's estimated
    cumulative count and interval beside it (``ESTIMATE_COLUMNS``; null where none).

    After the newest estimated month (no repository created since the estimate) a cumulative
    estimate stays where it was, as the labelled count does.
    """
    if frame.is_empty() or estimates.is_empty():
        return frame
    values = estimates.select(
        "month", "category",
        *(pl.col(source).round(2).alias(target) for source, target in zip(
            ("estimate", "lo", "hi"), ESTIMATE_COLUMNS, strict=True)),
    )  # fmt: skip
    last = estimates["month"].max()
    joined = frame.join(values, on=["month", "category"], how="left").sort("month", "group")
    return joined.with_columns(
        pl.when(pl.col("month") > last)
        .then(pl.col(column).forward_fill().over("group"))
        .otherwise(pl.col(column))
        .alias(column)
        for column in ESTIMATE_COLUMNS
    )


def _series(
    con: duckdb.DuckDBPyConnection, params: ChartParams, release: str | None
) -> pl.DataFrame:
    return monthly_series(
        con,
        by=params.level,
        basis=params.basis,
        cumulative=True,
        start=params.start,
        end=params.end,
        layers=list(params.layers) or None,
        categories=list(params.categories) or None,
        release=release,
    )


def _stack(
    con: duckdb.DuckDBPyConnection, params: ChartParams, release: str | None
) -> pl.DataFrame:
    frame = with_groups(_series(con, params, release), params.level)
    frame = lump_groups(frame, ["new_repos", "cumulative_repos"])
    return thin_monthly(frame)


def _share(
    con: duckdb.DuckDBPyConnection, params: ChartParams, release: str | None
) -> pl.DataFrame:
    frame = shares(con, by=params.level, basis=params.basis, release=release)
    # A month before the first repository has no share (0/0): it is not drawn.
    frame = frame.filter(pl.col("share").is_not_null() & pl.col("share").is_not_nan())
    if params.layers:
        frame = frame.filter(pl.col("layer").is_in(list(params.layers)))
    if params.categories:
        frame = frame.filter(pl.col("category").is_in(list(params.categories)))
    if params.start is not None:
        frame = frame.filter(pl.col("month") >= params.start)
    if params.end is not None:
        frame = frame.filter(pl.col("month") <= params.end)
    frame = with_groups(frame, params.level)
    frame = lump_groups(frame, ["new_repos", "cumulative_repos", "share"])
    return thin_monthly(frame)


def _stars(
    con: duckdb.DuckDBPyConnection, params: ChartParams, release: str | None
) -> pl.DataFrame:
    if not params.repo:
        raise NotFoundError(
            "the stars chart needs a repository", "add ?repo=OWNER/NAME to the request"
        )
    repo = find_repository(con, params.repo)
    if repo is None:
        raise NotFoundError(
            f"repository {params.repo} is not in the warehouse",
            "check the OWNER/NAME spelling; search with /v1/repos?q=…",
        )
    rows = latest_observations(con, int(repo["id"]), limit=_STAR_SERIES_LIMIT)
    frame = pl.DataFrame(
        [
            {"observed_on": row["observed_at"].date(), "stars": row["stars"]}
            for row in rows
            if row.get("observed_at") is not None
        ],
        schema={"observed_on": pl.Date, "stars": pl.Int64},
    )
    frame = frame.group_by("observed_on").agg(pl.col("stars").max()).sort("observed_on")
    return frame.with_columns(pl.lit(repo["full_name"]).alias("repository"))


def with_groups(frame: pl.DataFrame, level: str) -> pl.DataFrame:
    """Add ``group``: the value at ``level`` of each row."""
    return frame.with_columns(pl.col(level).fill_null("unlabelled").alias("group"))


def group_order(frame: pl.DataFrame, size_column: str = "cumulative_repos") -> list[str]:
    """Groups by their size at the newest month, largest first; REST always last."""
    if frame.is_empty():
        return []
    newest = frame.filter(pl.col("month") == pl.col("month").max())
    ranked = (
        newest.group_by("group")
        .agg(pl.col(size_column).sum())
        .sort([size_column, "group"], descending=[True, False])["group"]
        .to_list()
    )
    return [g for g in ranked if g != REST] + ([REST] if REST in ranked else [])


def lump_groups(frame: pl.DataFrame, sums: list[str]) -> pl.DataFrame:
    """Keep the ``MAX_GROUPS - 1`` largest groups; sum the others into one ``REST`` group."""
    order = group_order(frame)
    if len(order) <= MAX_GROUPS:
        return frame.sort("month", "group")
    kept = set(order[: MAX_GROUPS - 1])
    named = frame.filter(pl.col("group").is_in(kept))
    rest = (
        frame.filter(~pl.col("group").is_in(kept))
        .group_by("month")
        .agg(*(pl.col(column).sum() for column in sums))
        .with_columns(
            pl.lit(None, dtype=pl.String).alias("layer"),
            pl.lit(None, dtype=pl.String).alias("category"),
            pl.lit(None, dtype=pl.String).alias("subcategory"),
            pl.lit(REST).alias("group"),
        )
    )
    rest = rest.select(named.columns).cast(named.schema)  # type: ignore[arg-type]
    return pl.concat([named, rest]).sort("month", "group")


def thin_monthly(frame: pl.DataFrame, max_rows: int = MAX_CHART_ROWS) -> pl.DataFrame:
    """Keep quarter ends (then year ends) of a cumulative monthly series until it fits.

    Cumulative values at the kept months stay exact; only the resolution drops. The last month
    is always kept so the chart ends at the newest totals.
    """
    if frame.height <= max_rows:
        return frame
    last = frame["month"].max()
    kept = frame
    for months in ((3, 6, 9, 12), (12,)):
        kept = frame.filter(pl.col("month").dt.month().is_in(months) | (pl.col("month") == last))
        if kept.height <= max_rows:
            return kept
    return kept.tail(max_rows)
