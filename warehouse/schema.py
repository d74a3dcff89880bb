"""The one home of the warehouse schema: numbered migrations, recorded in the database.

A migration is never edited once released; a change of schema is a new migration appended to
``MIGRATIONS``. ``apply_migrations`` is idempotent: applied versions are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


_CORE_TABLES = """
CREATE SEQUENCE IF NOT EXISTS crawl_run_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS classification_id_seq START 1;

-- One row per GitHub repository, keyed by GitHub's numeric id (survives renames).
CREATE TABLE repositories (
    id              BIGINT PRIMARY KEY,
    full_name       VARCHAR NOT NULL,
    owner           VARCHAR NOT NULL,
    name            VARCHAR NOT NULL,
    description     VARCHAR,
    language        VARCHAR,
    license         VARCHAR,
    topics          VARCHAR[],
    homepage        VARCHAR,
    created_at      TIMESTAMP,
    pushed_at       TIMESTAMP,
    archived        BOOLEAN DEFAULT false,
    stars           INTEGER,
    forks           INTEGER,
    readme_excerpt  VARCHAR,
    readme_etag     VARCHAR,
    text_hash       VARCHAR,
    -- active | below_threshold | vanished: repositories are marked, never deleted
    status          VARCHAR NOT NULL DEFAULT 'active',
    first_seen_at   TIMESTAMP NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Every name a repository has had, so renames stay traceable.
CREATE TABLE repository_names (
    repo_id         BIGINT NOT NULL,
    full_name       VARCHAR NOT NULL,
    first_seen_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (repo_id, full_name)
);

CREATE TABLE crawl_runs (
    id              BIGINT PRIMARY KEY DEFAULT nextval('crawl_run_id_seq'),
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    -- running | succeeded | failed
    status          VARCHAR NOT NULL,
    mode            VARCHAR NOT NULL,
    api_url         VARCHAR NOT NULL,
    query_set       VARCHAR,
    requests        INTEGER NOT NULL DEFAULT 0,
    repos_seen      INTEGER NOT NULL DEFAULT 0,
    error           VARCHAR
);

-- The search slices of a run and their progress, so that a killed run resumes where it stopped.
CREATE TABLE crawl_slices (
    run_id          BIGINT NOT NULL,
    query           VARCHAR NOT NULL,
    created_from    DATE NOT NULL,
    created_to      DATE NOT NULL,
    -- pending | done | split
    status          VARCHAR NOT NULL,
    total_count     INTEGER,
    pages_done      INTEGER NOT NULL DEFAULT 0,
    repos_found     INTEGER NOT NULL DEFAULT 0,
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, query, created_from, created_to)
);

-- One observation per repository per crawl run: the history of stars and forks.
CREATE TABLE observations (
    run_id          BIGINT NOT NULL,
    repo_id         BIGINT NOT NULL,
    observed_at     TIMESTAMP NOT NULL,
    stars           INTEGER NOT NULL,
    forks           INTEGER,
    PRIMARY KEY (run_id, repo_id)
);

-- When a repository crossed the star threshold, and where that figure came from.
CREATE TABLE star_milestones (
    repo_id         BIGINT NOT NULL,
    threshold       INTEGER NOT NULL,
    crossed_on      DATE,
    -- stargazers_history | unknown
    source          VARCHAR NOT NULL,
    fetched_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (repo_id, threshold)
);

-- Every label ever given. The current label is chosen by method precedence, then recency.
CREATE TABLE classifications (
    id               BIGINT PRIMARY KEY DEFAULT nextval('classification_id_seq'),
    repo_id          BIGINT NOT NULL,
    layer            VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    subcategory      VARCHAR,
    confidence       DOUBLE,
    -- human | llm | model | rules
    method           VARCHAR NOT NULL,
    model_version    VARCHAR,
    prompt_version   VARCHAR,
    taxonomy_version VARCHAR NOT NULL,
    rationale        VARCHAR,
    note             VARCHAR,
    text_hash        VARCHAR,
    -- e.g. 'llm_fallback' when the LLM failed and the model label stands in
    flags            VARCHAR,
    created_at       TIMESTAMP NOT NULL
);

-- Answers of the LLM, cached by (repository text hash, prompt version, model).
CREATE TABLE llm_cache (
    text_hash        VARCHAR NOT NULL,
    prompt_version   VARCHAR NOT NULL,
    model            VARCHAR NOT NULL,
    answer           JSON NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (text_hash, prompt_version, model)
);

-- One row per classification run: what it cost.
CREATE TABLE classification_runs (
    id               BIGINT PRIMARY KEY,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,
    model_version    VARCHAR,
    taxonomy_version VARCHAR,
    repos_classified INTEGER NOT NULL DEFAULT 0,
    llm_requests     INTEGER NOT NULL DEFAULT 0,
    llm_tokens       INTEGER NOT NULL DEFAULT 0,
    llm_failures     INTEGER NOT NULL DEFAULT 0
);
"""


def _monthly_counts_view(last_month: str) -> str:
    """New and cumulative counts per creation month, layer and category, with empty months
    filled from the first month to ``last_month`` (an SQL expression over ``max(month)``)."""
    return f"""
CREATE OR REPLACE VIEW monthly_counts AS
    WITH counted AS (
        SELECT date_trunc('month', created_at)::DATE AS month, layer, category,
               count(*)::BIGINT AS new_repos
        FROM labelled_repositories
        WHERE status = 'active' AND category IS NOT NULL AND created_at IS NOT NULL
        GROUP BY ALL
    ),
    bounds AS (SELECT min(month) AS lo, {last_month} AS hi FROM counted),
    calendar AS (
        SELECT unnest(generate_series(lo, hi, INTERVAL 1 MONTH))::DATE AS month FROM bounds
    ),
    categories AS (SELECT DISTINCT layer, category FROM counted),
    grid AS (
        SELECT c.month, k.layer, k.category,
               coalesce(n.new_repos, 0)::BIGINT AS new_repos
        FROM calendar c CROSS JOIN categories k
        LEFT JOIN counted n USING (month, layer, category)
    )
    SELECT month, layer, category, new_repos,
           (sum(new_repos) OVER (
               PARTITION BY layer, category ORDER BY month
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ))::BIGINT AS cumulative_repos
    FROM grid;
"""


_LABEL_VIEWS = """
CREATE OR REPLACE MACRO method_rank(m) AS
    CASE m WHEN 'human' THEN 4 WHEN 'llm' THEN 3 WHEN 'model' THEN 2 WHEN 'rules' THEN 1 ELSE 0 END;

-- The label in force at a point in time: "how was this repository labelled on date D".
CREATE OR REPLACE MACRO labels_as_of(ts) AS TABLE
    SELECT * EXCLUDE (rn) FROM (
        SELECT c.*, row_number() OVER (
            PARTITION BY c.repo_id
            ORDER BY method_rank(c.method) DESC, c.created_at DESC, c.id DESC
        ) AS rn
        FROM classifications c
        WHERE c.created_at <= ts
    ) WHERE rn = 1;

CREATE OR REPLACE VIEW current_labels AS
    SELECT * FROM labels_as_of(TIMESTAMP '9999-12-31');

-- Repositories with their current label; the unit every count starts from.
CREATE OR REPLACE VIEW labelled_repositories AS
    SELECT r.*, l.layer, l.category, l.subcategory, l.confidence, l.method,
           l.model_version, l.rationale, l.created_at AS labelled_at
    FROM repositories r LEFT JOIN current_labels l ON l.repo_id = r.id;
""" + _monthly_counts_view("max(month)") + """
CREATE OR REPLACE VIEW monthly_counts_by_layer AS
    SELECT month, layer, sum(new_repos)::BIGINT AS new_repos,
           sum(cumulative_repos)::BIGINT AS cumulative_repos
    FROM monthly_counts GROUP BY ALL;
"""

# The cumulative series runs to the current month, so that a chart's lines end today.
_COUNTS_TO_TODAY = _monthly_counts_view(
    "greatest(max(month), date_trunc('month', current_date)::DATE)")

# Rebuilt by ``warehouse.analytics.refresh_analytics`` after each pipeline run. Unlike the
# ``monthly_counts`` view (kept for its callers), these series stop at the data date.
_ANALYTICS_TABLES = """
CREATE TABLE analytics_meta (
    refreshed_at     TIMESTAMP NOT NULL,
    data_date        DATE,
    threshold        INTEGER NOT NULL,
    repos            BIGINT NOT NULL,
    unknown_crossing BIGINT NOT NULL
);
-- basis: created | crossed; one row per month and subcategory, months without repos as zeros.
CREATE TABLE analytics_monthly (
    basis            VARCHAR NOT NULL,
    month            DATE NOT NULL,
    layer            VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    subcategory      VARCHAR NOT NULL,
    new_repos        BIGINT NOT NULL,
    cumulative_repos BIGINT NOT NULL
);
CREATE TABLE analytics_unknown_crossing (
    layer VARCHAR NOT NULL, category VARCHAR NOT NULL, subcategory VARCHAR NOT NULL,
    repos BIGINT NOT NULL
);
CREATE TABLE analytics_stars (
    layer VARCHAR NOT NULL, category VARCHAR NOT NULL, repos BIGINT NOT NULL, stars BIGINT NOT NULL
);
CREATE TABLE analytics_languages (
    layer VARCHAR NOT NULL, category VARCHAR NOT NULL, language VARCHAR NOT NULL,
    repos BIGINT NOT NULL
);
CREATE TABLE analytics_growth (
    window_days        INTEGER NOT NULL,
    layer              VARCHAR NOT NULL,
    category           VARCHAR NOT NULL,
    repos              BIGINT NOT NULL,
    repos_with_history BIGINT NOT NULL,
    stars_gained       BIGINT NOT NULL
);
CREATE TABLE analytics_movers (
    window_days  INTEGER NOT NULL,
    layer        VARCHAR NOT NULL,
    category     VARCHAR NOT NULL,
    rank         INTEGER NOT NULL,
    repo_id      BIGINT NOT NULL,
    full_name    VARCHAR NOT NULL,
    stars        INTEGER NOT NULL,
    stars_gained BIGINT NOT NULL
);
"""

# Published releases. Their frozen tables, ``release_<name>`` (a ``release_id`` column plus the
# columns of the live SQL), are created by ``warehouse.releases`` from its ``FROZEN`` registry on
# the first publish that needs them; rows are only ever appended.
_RELEASES_TABLE = """
CREATE TABLE releases (
    id           VARCHAR PRIMARY KEY,   -- YYYY-MM-DD.N
    day          DATE NOT NULL,
    seq          INTEGER NOT NULL,
    published_at TIMESTAMP NOT NULL,    -- UTC
    data_date    DATE,
    methodology  JSON NOT NULL,
    tables       VARCHAR[] NOT NULL,
    UNIQUE (day, seq)
);
"""


# One row per run of a scheduled or hand-triggered job (warehouse/jobs.py), so that the history
# of the service survives restarts and a run left 'running' by a killed process can be marked.
_JOB_RUNS = """
CREATE SEQUENCE IF NOT EXISTS job_run_id_seq START 1;
CREATE TABLE job_runs (
    id              BIGINT PRIMARY KEY DEFAULT nextval('job_run_id_seq'),
    job             VARCHAR NOT NULL,
    -- schedule | manual | after:<job>
    trigger         VARCHAR NOT NULL,
    -- the run whose success started this one (a follow-up), else NULL
    parent_id       BIGINT,
    queued_at       TIMESTAMP NOT NULL,
    started_at      TIMESTAMP,
    finished_at     TIMESTAMP,
    -- queued | running | succeeded | failed
    status          VARCHAR NOT NULL,
    counts          JSON,
    error           VARCHAR,
    pid             INTEGER
);
"""


# The label in force, materialised: ranking every classification per request made a filtered,
# sorted repository page cost a window over the whole history. ``warehouse.labels`` keeps this
# table current on every label write (``refresh_current_labels`` rebuilds it).
CURRENT_LABEL_COLUMNS = (
    "repo_id", "id", "layer", "category", "subcategory", "confidence", "method", "model_version",
    "prompt_version", "taxonomy_version", "rationale", "note", "text_hash", "flags", "created_at",
)  # fmt: skip

_CURRENT_LABELS_TABLE = f"""
DROP VIEW IF EXISTS current_labels;
CREATE TABLE current_labels (
    repo_id          BIGINT PRIMARY KEY,
    id               BIGINT NOT NULL,
    layer            VARCHAR NOT NULL,
    category         VARCHAR NOT NULL,
    subcategory      VARCHAR,
    confidence       DOUBLE,
    method           VARCHAR NOT NULL,
    model_version    VARCHAR,
    prompt_version   VARCHAR,
    taxonomy_version VARCHAR NOT NULL,
    rationale        VARCHAR,
    note             VARCHAR,
    text_hash        VARCHAR,
    flags            VARCHAR,
    created_at       TIMESTAMP NOT NULL
);
INSERT INTO current_labels
    SELECT {", ".join(CURRENT_LABEL_COLUMNS)} FROM labels_as_of(TIMESTAMP '9999-12-31');
"""


# Estimated true counts per creation month and category (classifier/quantify.py), with their 90%
# interval, one set per model version (recomputed after each classification run), and the sets
# frozen into releases. ``estimate`` is the month's new repositories, ``cumulative_*`` the running
# total; both are estimates of the truth, beside the labelled counts of ``monthly_counts``.
_COUNT_ESTIMATES = """
CREATE TABLE count_estimate_runs (
    model_version    VARCHAR PRIMARY KEY,
    method           VARCHAR NOT NULL,
    computed_at      TIMESTAMP NOT NULL,
    repos            INTEGER NOT NULL,
    human_confirmed  INTEGER NOT NULL,
    validation_rows  INTEGER NOT NULL,
    interval_level   DOUBLE NOT NULL,
    replicates       INTEGER NOT NULL
);

CREATE TABLE count_estimates (
    model_version       VARCHAR NOT NULL,
    month               DATE NOT NULL,
    layer               VARCHAR NOT NULL,
    category            VARCHAR NOT NULL,
    estimate            DOUBLE NOT NULL,
    lo                  DOUBLE NOT NULL,
    hi                  DOUBLE NOT NULL,
    cumulative_estimate DOUBLE NOT NULL,
    cumulative_lo       DOUBLE NOT NULL,
    cumulative_hi       DOUBLE NOT NULL,
    method              VARCHAR NOT NULL,
    computed_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (model_version, month, category)
);

-- Each active repository's probability of every category under the model version of the newest
-- estimates (``categories`` names the columns of ``probabilities``), and how much confirming its
-- label would improve the counts (``review_score``): the review queue reads it.
CREATE TABLE repo_probabilities (
    repo_id         BIGINT PRIMARY KEY,
    model_version   VARCHAR NOT NULL,
    categories      VARCHAR[] NOT NULL,
    probabilities   DOUBLE[] NOT NULL,
    review_score    DOUBLE NOT NULL,
    computed_at     TIMESTAMP NOT NULL
);

CREATE TABLE release_count_estimates (
    release_id          VARCHAR NOT NULL,
    model_version       VARCHAR NOT NULL,
    month               DATE NOT NULL,
    layer               VARCHAR NOT NULL,
    category            VARCHAR NOT NULL,
    estimate            DOUBLE NOT NULL,
    lo                  DOUBLE NOT NULL,
    hi                  DOUBLE NOT NULL,
    cumulative_estimate DOUBLE NOT NULL,
    cumulative_lo       DOUBLE NOT NULL,
    cumulative_hi       DOUBLE NOT NULL,
    method              VARCHAR NOT NULL,
    computed_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (release_id, month, category)
);
"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "core tables", _CORE_TABLES),
    Migration(2, "label and count views", _LABEL_VIEWS),
    Migration(
        3,
        "readme check time",
        # When the collector last asked for the README: it asks again only after a push.
        "ALTER TABLE repositories ADD COLUMN readme_checked_at TIMESTAMP;",
    ),
    Migration(4, "monthly counts run to the current month", _COUNTS_TO_TODAY),
    Migration(
        5,
        "AI share of each classification run",
        # The estimated AI share of the population the run's "is AI" decisions were made for.
        "ALTER TABLE classification_runs ADD COLUMN ai_prior DOUBLE;",
    ),
    Migration(6, "analytics tables", _ANALYTICS_TABLES),
    Migration(7, "releases", _RELEASES_TABLE),
    Migration(8, "estimated counts with intervals", _COUNT_ESTIMATES),
    Migration(9, "job run history", _JOB_RUNS),
    Migration(11, "current labels as a table kept on label writes", _CURRENT_LABELS_TABLE),
    Migration(
        12,
        "review queue position",
        # The queue's order (classifier/estimation.py: review_order); rows stored before this
        # migration have none and fall back to the review score until the next estimate.
        "ALTER TABLE repo_probabilities ADD COLUMN review_rank INTEGER;",
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
)
"""


def applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    con.execute(_BOOKKEEPING)
    rows = con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]


def pending_migrations(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    done = set(applied_versions(con))
    return [m for m in MIGRATIONS if m.version not in done]


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction. Returns those applied."""
    applied: list[Migration] = []
    for migration in pending_migrations(con):
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")
            raise
        log.info("applied migration %d: %s", migration.version, migration.name)
        applied.append(migration)
    return applied
