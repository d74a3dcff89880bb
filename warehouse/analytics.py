"""Analytics in DuckDB SQL: monthly series on two bases, shares, stars, growth, movers, languages.

``refresh_analytics`` rebuilds the ``analytics_*`` tables (migration 6) from the repositories,
their current labels, observations and star milestones, in one transaction. Every reader takes
``release=``: ``None`` reads the latest published release (``warehouse.releases``), or the live
tables when none is published yet; an id reads that release's frozen copy.

What counts: active repositories with a label and a creation date. Two bases date them:

- ``created``: the month the repository was created (the book's method);
- ``crossed``: the month it first reached the star threshold. Taken from ``star_milestones``
  (GitHub's star history) where known, else from our observations: the month of the first
  observation at or above the threshold, when that month is provably the crossing one (an
  earlier observation was below the threshold, or the repository was created that month). A
  repository already above the threshold when first seen, without star history, has an
  *unknown* crossing month: it is left out of that basis and counted in ``unknown_crossing``.

Series stop at the data date (the newest observation): no month after it is drawn. Growth over a
window of N days is the repository's stars now minus its stars in the newest crawl run that
ended between 2N and N days before the data date; a repository that run did not observe (or a
window without such a run) has no growth figure (``repos_with_history`` says how many have one).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args

import duckdb
import polars as pl

from warehouse.db import fetch_frame
from warehouse.releases import frozen_source

log = logging.getLogger(__name__)

Level = Literal["layer", "category", "subcategory"]
Basis = Literal["created", "crossed"]
LEVELS: tuple[str, ...] = get_args(Level)
BASES: tuple[str, ...] = get_args(Basis)
WINDOWS = (7, 30, 90)
MOVERS_KEPT = 50  # movers stored per category and window; the most a reader may ask for
NOT_AI = "other"
UNSPECIFIED = "unspecified"  # the subcategory of a label that names none
DEFAULT_THRESHOLD = 500

_GROUPS = ("layer", "category", "subcategory")
# One refresh at a time in this process (DuckDB has one writing process): two at once would
# conflict on the same rows.
_REFRESH_LOCK = threading.Lock()


# The label in force (as ``current_labels``: method precedence, then recency, then id) packed
# into one HUGEINT so that ``arg_max`` picks it without comparing structs or sorting.
_LABEL_KEY = (
    "(method_rank(method)::HUGEINT << 100) + (epoch_us(created_at)::HUGEINT << 40) + id"
)


# The labels in force. Where ``current_labels`` is a table kept current on every label write, it
# is read as is; while it is a view (a window over every classification), the same choice is made
# here with one arg_max per repository, which is several times cheaper.
_PICKED_LABELS = f"""
    SELECT pick.repo_id, c.layer, c.category, c.subcategory
    FROM (
        SELECT repo_id, arg_max(id, {_LABEL_KEY}) AS label_id FROM classifications GROUP BY repo_id
    ) pick JOIN classifications c ON c.id = pick.label_id
"""
_TABLE_LABELS = "SELECT repo_id, layer, category, subcategory FROM current_labels"


def _labels_sql(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'current_labels' AND NOT temporary"
    ).fetchall()
    return _TABLE_LABELS if rows[0][0] else _PICKED_LABELS


def _facts_sql(baseline_runs: dict[int, int | None], labels_sql: str = _PICKED_LABELS) -> str:
    """One row per counted repository: label, months on both bases, stars and growth.

    ``baseline_runs`` maps each growth window to the crawl run its baseline is read from (None:
    no run in the window). The crossing month needs the observations of the *candidates* only:
    repositories ever observed below the threshold, and those created no earlier than the month
    of the first observation (for the others, the first observation above the threshold cannot
    fall in their creation month).
    """
    gains = ", ".join(
        f"(r.stars - base_{w}.stars)::BIGINT AS gained_{w}" if run is not None
        else f"NULL::BIGINT AS gained_{w}"
        for w, run in baseline_runs.items()
    )  # fmt: skip
    joins = "\n".join(
        f"LEFT JOIN observations base_{w} ON base_{w}.repo_id = r.id AND base_{w}.run_id = {run}"
        for w, run in baseline_runs.items()
        if run is not None
    )
    return f"""
CREATE OR REPLACE TEMP TABLE analytics_facts AS
WITH label AS ({labels_sql}),
candidates AS (
    SELECT DISTINCT repo_id FROM observations WHERE stars < $threshold
    UNION
    SELECT id FROM repositories
    WHERE created_at >= date_trunc('month', (SELECT min(observed_at) FROM observations))
),
crossing AS (
    SELECT repo_id, min(observed_at) FILTER (stars >= $threshold) AS first_above,
           min(observed_at) AS first_seen
    FROM observations WHERE repo_id IN (SELECT repo_id FROM candidates) GROUP BY repo_id
),
milestone AS (
    SELECT repo_id, crossed_on FROM star_milestones
    WHERE threshold = $threshold AND crossed_on IS NOT NULL
)
SELECT r.id AS repo_id, coalesce(r.language, 'unknown') AS language,
       label.layer, label.category,
       coalesce(nullif(label.subcategory, ''), '{UNSPECIFIED}') AS subcategory,
       coalesce(r.stars, 0) AS stars,
       date_trunc('month', r.created_at)::DATE AS created_month,
       CASE
           WHEN m.crossed_on IS NOT NULL THEN date_trunc('month', m.crossed_on)::DATE
           -- seen below the threshold first, or created in the month it was first seen above
           WHEN x.first_seen < x.first_above
             OR date_trunc('month', x.first_above) = date_trunc('month', r.created_at)
           THEN date_trunc('month', x.first_above)::DATE
       END AS crossed_month,
       {gains}
FROM repositories r
JOIN label ON label.repo_id = r.id
LEFT JOIN crossing x ON x.repo_id = r.id
LEFT JOIN milestone m ON m.repo_id = r.id
{joins}
WHERE r.status = 'active' AND r.created_at IS NOT NULL
"""


def _baseline_runs(con: duckdb.DuckDBPyConnection, newest: datetime) -> dict[int, int | None]:
    """Per window of N days, the newest crawl run whose last observation lies between 2N and N
    days before ``newest``: growth is measured from it."""
    rows = con.execute(
        "SELECT run_id, max(observed_at) FROM observations WHERE observed_at >= ? GROUP BY run_id",
        [newest - timedelta(days=2 * max(WINDOWS))],
    ).fetchall()
    chosen: dict[int, int | None] = {}
    for window in WINDOWS:
        lo, hi = newest - timedelta(days=2 * window), newest - timedelta(days=window)
        inside = [(at, run) for run, at in rows if lo <= at <= hi]
        chosen[window] = max(inside)[1] if inside else None
    return chosen


_MONTHLY_SQL = """
INSERT INTO analytics_monthly
WITH counted AS MATERIALIZED (
    SELECT 'created' AS basis, created_month AS month, layer, category, subcategory,
           count(*) AS new_repos
    FROM analytics_facts WHERE created_month <= $last_month GROUP BY ALL
    UNION ALL
    SELECT 'crossed', crossed_month, layer, category, subcategory, count(*)
    FROM analytics_facts WHERE crossed_month <= $last_month GROUP BY ALL
),
calendar AS (
    SELECT basis, unnest(generate_series(min(month), $last_month, INTERVAL 1 MONTH))::DATE AS month
    FROM counted GROUP BY basis
),
groups AS (SELECT DISTINCT basis, layer, category, subcategory FROM counted),
grid AS (
    SELECT c.basis, c.month, g.layer, g.category, g.subcategory,
           coalesce(n.new_repos, 0)::BIGINT AS new_repos
    FROM calendar c JOIN groups g USING (basis)
    LEFT JOIN counted n USING (basis, month, layer, category, subcategory)
)
SELECT basis, month, layer, category, subcategory, new_repos,
       sum(new_repos) OVER (
           PARTITION BY basis, layer, category, subcategory ORDER BY month
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
       )::BIGINT AS cumulative_repos
FROM grid
"""


def _growth_sql(windows: tuple[int, ...]) -> tuple[str, str]:
    """Growth per group and the top movers per category: one pass over the facts each, with
    one aggregate per window (the windows are unpivoted afterwards, on small results)."""
    sums = ", ".join(
        f"count(gained_{w}) AS known_{w}, sum(gained_{w}) AS gained_{w}" for w in windows
    )
    unpivot = " UNION ALL ".join(
        f"SELECT {w}, layer, category, repos, known_{w}, coalesce(gained_{w}, 0)::BIGINT "
        "FROM per_group"
        for w in windows
    )
    growth = f"""
INSERT INTO analytics_growth
WITH per_group AS (
    SELECT layer, category, count(*)::BIGINT AS repos, {sums}
    FROM analytics_facts GROUP BY layer, category
)
{unpivot}
"""
    # Top movers by one packed key (gain, then stars, then the lower id; ids below 2^40, as
    # GitHub's are): arg_max keeps a small heap per category instead of sorting every row.
    tops = ",\n".join(
        f"arg_max(repo_id, (gained_{w}::HUGEINT << 72) + (stars::HUGEINT << 40) "
        f"+ ((1::HUGEINT << 40) - 1 - repo_id), {MOVERS_KEPT}) "
        f"FILTER (WHERE gained_{w} IS NOT NULL) AS ids_{w}"
        for w in windows
    )
    ranked = " UNION ALL ".join(
        f"SELECT {w} AS window_days, unnest(ids_{w}) AS repo_id, "
        f"generate_subscripts(ids_{w}, 1) AS rank FROM top"
        for w in windows
    )
    gained = " ".join(f"WHEN {w} THEN f.gained_{w}" for w in windows)
    movers = f"""
INSERT INTO analytics_movers
WITH top AS (SELECT category, {tops} FROM analytics_facts GROUP BY category),
ranked AS ({ranked})
SELECT k.window_days, f.layer, f.category, k.rank::INTEGER, k.repo_id, r.full_name, f.stars,
       CASE k.window_days {gained} END
FROM ranked k
JOIN analytics_facts f ON f.repo_id = k.repo_id
JOIN repositories r ON r.id = k.repo_id
"""
    return growth, movers


_SUMMARY_SQL = (
    """
INSERT INTO analytics_unknown_crossing
SELECT layer, category, subcategory, count(*)::BIGINT FROM analytics_facts
WHERE crossed_month IS NULL GROUP BY ALL
""",
    """
INSERT INTO analytics_stars
SELECT layer, category, count(*)::BIGINT, sum(stars)::BIGINT FROM analytics_facts GROUP BY ALL
""",
    """
INSERT INTO analytics_languages
SELECT layer, category, language, count(*)::BIGINT FROM analytics_facts GROUP BY ALL
""",
    """
INSERT INTO analytics_meta
SELECT timezone('UTC', now()), $data_date, $threshold, count(*)::BIGINT,
       count(*) FILTER (WHERE crossed_month IS NULL)::BIGINT
FROM analytics_facts
""",
)

ANALYTICS_TABLES = (
    "analytics_meta", "analytics_monthly", "analytics_unknown_crossing", "analytics_stars",
    "analytics_languages", "analytics_growth", "analytics_movers",
)  # fmt: skip


def _newest_observation(con: duckdb.DuckDBPyConnection) -> Any:
    """The data's newest moment: the last observation, else the last time a repo was seen."""
    rows = con.execute(
        """
        SELECT coalesce((SELECT max(observed_at) FROM observations),
                        (SELECT max(last_seen_at) FROM repositories))
        """
    ).fetchall()
    return rows[0][0]


def refresh_analytics(
    con: duckdb.DuckDBPyConnection, *, threshold: int = DEFAULT_THRESHOLD
) -> None:
    """Rebuild every ``analytics_*`` table in one transaction: readers see old or new, not half."""
    with _REFRESH_LOCK:
        _refresh(con, threshold)


def _refresh(con: duckdb.DuckDBPyConnection, threshold: int) -> None:
    started = time.perf_counter()
    newest = _newest_observation(con)
    last_month = newest.date().replace(day=1) if newest is not None else None
    growth_sql, movers_sql = _growth_sql(WINDOWS)
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ANALYTICS_TABLES:
            con.execute(f"DELETE FROM {table}")
        runs = _baseline_runs(con, newest) if newest is not None else dict.fromkeys(WINDOWS)
        con.execute(_facts_sql(runs, _labels_sql(con)), {"threshold": threshold})
        con.execute(_MONTHLY_SQL, {"last_month": last_month})
        con.execute(growth_sql)
        con.execute(movers_sql)
        for statement in _SUMMARY_SQL[:-1]:
            con.execute(statement)
        con.execute(
            _SUMMARY_SQL[-1],
            {"data_date": newest.date() if newest else None, "threshold": threshold},
        )
        con.execute("DROP TABLE analytics_facts")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("analytics refreshed in %.2f s", time.perf_counter() - started)


def ensure_analytics(con: duckdb.DuckDBPyConnection) -> None:
    """Refresh once if the analytics were never computed (a warehouse filled without a run)."""
    with _REFRESH_LOCK:
        if not con.execute("SELECT count(*) FROM analytics_meta").fetchall()[0][0]:
            _refresh(con, DEFAULT_THRESHOLD)


# --- readers -------------------------------------------------------------------------------


def _filters(
    *,
    layers: list[str] | None,
    categories: list[str] | None,
    include_other: bool,
    params: dict[str, Any],
) -> list[str]:
    clauses = []
    if layers:
        clauses.append("layer IN (SELECT unnest($layers))")
        params["layers"] = list(layers)
    if categories:
        clauses.append("category IN (SELECT unnest($categories))")
        params["categories"] = list(categories)
    if not include_other and not (categories and NOT_AI in categories):
        clauses.append(f"category <> '{NOT_AI}'")
    return clauses


def _group_columns(by: str) -> tuple[str, str]:
    """(the SELECT list of the group columns, the GROUP BY list) for a level."""
    if by not in LEVELS:
        raise ValueError(f"by must be one of {LEVELS}, not {by!r}")
    kept = _GROUPS[: LEVELS.index(by) + 1]
    select = ", ".join(c if c in kept else f"NULL::VARCHAR AS {c}" for c in _GROUPS)
    return select, ", ".join(kept)


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def monthly_series(
    con: duckdb.DuckDBPyConnection,
    *,
    by: Level = "category",
    basis: Basis = "created",
    cumulative: bool = True,
    start: date | None = None,
    end: date | None = None,
    layers: list[str] | None = None,
    categories: list[str] | None = None,
    include_other: bool = False,
    release: str | None = None,
) -> pl.DataFrame:
    """New (and cumulative) repositories per month and group, months through the data date.

    ``start``/``end`` pick months (a date picks its month); the cumulative count still includes
    every earlier repository. With ``cumulative=False`` the ``cumulative_repos`` column is null.
    """
    if basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, not {basis!r}")
    source, params = frozen_source(con, "monthly", release)
    params["basis"] = basis
    clauses = [
        "basis = $basis",
        *_filters(layers=layers, categories=categories, include_other=include_other, params=params),
    ]
    if start is not None:
        clauses.append("month >= $start")
        params["start"] = start.replace(day=1)
    if end is not None:
        clauses.append("month <= $end")
        params["end"] = end.replace(day=1)
    select, group = _group_columns(by)
    running = "sum(cumulative_repos)::BIGINT" if cumulative else "NULL::BIGINT"
    return fetch_frame(
        con,
        f"""
        SELECT month, {select}, sum(new_repos)::BIGINT AS new_repos,
               {running} AS cumulative_repos
        FROM {source} {_where(clauses)}
        GROUP BY month, {group} ORDER BY month, {group}
        """,
        params,
    )


def shares(
    con: duckdb.DuckDBPyConnection,
    *,
    by: Level = "category",
    basis: Basis = "created",
    include_other: bool = False,
    release: str | None = None,
) -> pl.DataFrame:
    """``monthly_series`` plus ``share`` (of the month's cumulative total: the stock) and
    ``share_of_new`` (of the month's new repositories; null in a month without any)."""
    frame = monthly_series(
        con, by=by, basis=basis, include_other=include_other, release=release
    )
    return frame.with_columns(
        share=pl.col("cumulative_repos") / pl.col("cumulative_repos").sum().over("month"),
        share_of_new=pl.when(pl.col("new_repos").sum().over("month") > 0).then(
            pl.col("new_repos") / pl.col("new_repos").sum().over("month")
        ),
    )


def unknown_crossing(
    con: duckdb.DuckDBPyConnection,
    *,
    layers: list[str] | None = None,
    categories: list[str] | None = None,
    include_other: bool = False,
    release: str | None = None,
) -> int:
    """Counted repositories whose threshold crossing month is unknown (under the filters)."""
    source, params = frozen_source(con, "unknown_crossing", release)
    clauses = _filters(
        layers=layers, categories=categories, include_other=include_other, params=params
    )
    rows = con.execute(
        f"SELECT coalesce(sum(repos), 0)::BIGINT FROM {source} {_where(clauses)}", params
    ).fetchall()
    return int(rows[0][0])


def data_date(con: duckdb.DuckDBPyConnection, release: str | None = None) -> date | None:
    """The date of the newest data the analytics (or the release) were computed from."""
    source, params = frozen_source(con, "meta", release)
    rows = con.execute(f"SELECT data_date FROM {source}", params).fetchall()
    return rows[0][0] if rows else None


def movers(
    con: duckdb.DuckDBPyConnection,
    *,
    window_days: int = 30,
    category: str | None = None,
    limit: int = 10,
    include_other: bool = False,
    release: str | None = None,
) -> pl.DataFrame:
    """The repositories that gained most stars over the window, ``limit`` per category."""
    if window_days not in WINDOWS:
        raise ValueError(f"window_days must be one of {WINDOWS}, not {window_days}")
    source, params = frozen_source(con, "movers", release)
    params.update(window=window_days, limit=min(limit, MOVERS_KEPT))
    wanted = [category] if category else None
    clauses = [
        "window_days = $window",
        "rank <= $limit",
        *_filters(layers=None, categories=wanted, include_other=include_other, params=params),
    ]
    return fetch_frame(
        con,
        f"""
        SELECT layer, category, rank, repo_id, full_name, stars, stars_gained
        FROM {source} {_where(clauses)} ORDER BY layer, category, rank
        """,
        params,
    )


def growth(
    con: duckdb.DuckDBPyConnection,
    *,
    window_days: int = 30,
    by: Literal["layer", "category"] = "category",
    include_other: bool = False,
    release: str | None = None,
) -> pl.DataFrame:
    """Stars gained over the window per layer or category, and how many repositories had the
    history to say (``repos_with_history`` of ``repos``)."""
    if window_days not in WINDOWS:
        raise ValueError(f"window_days must be one of {WINDOWS}, not {window_days}")
    source, params = frozen_source(con, "growth", release)
    params["window"] = window_days
    clauses = [
        "window_days = $window",
        *_filters(layers=None, categories=None, include_other=include_other, params=params),
    ]
    select, group = _group_columns(by)
    return fetch_frame(
        con,
        f"""
        SELECT {select.removesuffix(", NULL::VARCHAR AS subcategory")},
               sum(repos)::BIGINT AS repos, sum(repos_with_history)::BIGINT AS repos_with_history,
               sum(stars_gained)::BIGINT AS stars_gained
        FROM {source} {_where(clauses)} GROUP BY {group} ORDER BY {group}
        """,
        params,
    )


def stars_by_layer(
    con: duckdb.DuckDBPyConnection, *, include_other: bool = False, release: str | None = None
) -> pl.DataFrame:
    """Repositories and their stars (newest observation) per layer, with the share of stars."""
    source, params = frozen_source(con, "stars", release)
    clauses = _filters(layers=None, categories=None, include_other=include_other, params=params)
    return fetch_frame(
        con,
        f"""
        SELECT layer, sum(repos)::BIGINT AS repos, sum(stars)::BIGINT AS stars,
               sum(stars) / sum(sum(stars)) OVER () AS share
        FROM {source} {_where(clauses)} GROUP BY layer ORDER BY layer
        """,
        params,
    )


def language_mix(
    con: duckdb.DuckDBPyConnection,
    *,
    top: int = 10,
    include_other: bool = False,
    release: str | None = None,
) -> pl.DataFrame:
    """The ``top`` languages of each layer, with their share of the layer's repositories."""
    source, params = frozen_source(con, "languages", release)
    clauses = _filters(layers=None, categories=None, include_other=include_other, params=params)
    params["top"] = top
    return fetch_frame(
        con,
        f"""
        SELECT layer, language, repos, share FROM (
            SELECT layer, language, sum(repos)::BIGINT AS repos,
                   sum(repos) / sum(sum(repos)) OVER (PARTITION BY layer) AS share,
                   row_number() OVER (
                       PARTITION BY layer ORDER BY sum(repos) DESC, language
                   ) AS position
            FROM {source} {_where(clauses)} GROUP BY layer, language
        ) WHERE position <= $top ORDER BY layer, repos DESC, language
        """,
        params,
    )
