"""Response and request models, one per resource."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from classifier import taxonomy


def as_utc(value: datetime) -> datetime:
    """The warehouse stores UTC without a zone; answers say so (``…Z``)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `invalid_parameter`.")
    message: str = Field(description="What went wrong.")
    hint: str = Field(description="What to do about it (may be empty).")


class ErrorResponse(BaseModel):
    """The one error shape of every failure."""

    error: ErrorDetail


class Health(BaseModel):
    status: str = Field(description="`ok` whenever the process answers (no database touch).")
    version: str = Field(description="stackatlas version serving.")


class Readiness(BaseModel):
    status: str = Field(description="`ready`: the database answers and the data is fresh.")
    database: str = Field(description="The DuckDB file served (or `:memory:`).")
    repositories: int = Field(description="Repositories in the warehouse, any status.")
    schema_version: int = Field(description="Latest applied warehouse migration.")
    last_success_at: datetime | None = Field(
        description="When the last successful crawl run finished (UTC); null when none has."
    )
    last_success_age_seconds: float | None = Field(
        description="Seconds since then; /readyz answers 503 past STACKATLAS_READY_MAX_AGE_HOURS."
    )


class LabelSummary(BaseModel):
    layer: str
    category: str
    subcategory: str | None = None
    confidence: float | None = None
    method: str = Field(description="human | llm | model | rules")


class LabelDetail(LabelSummary):
    id: int
    taxonomy_version: str
    model_version: str | None = None
    prompt_version: str | None = None
    rationale: str | None = None
    note: str | None = None
    flags: str | None = None
    created_at: UtcDatetime


class RepoItem(BaseModel):
    """A repository in a list. Every property is present unless ``fields`` leaves it out."""

    full_name: str = None  # type: ignore[assignment]
    id: int = None  # type: ignore[assignment]
    description: str | None = None
    stars: int | None = None
    forks: int | None = None
    language: str | None = None
    license: str | None = None
    topics: list[str] = None  # type: ignore[assignment]
    homepage: str | None = None
    created_at: UtcDatetime | None = None
    pushed_at: UtcDatetime | None = None
    archived: bool | None = None
    status: str = None  # type: ignore[assignment]
    label: LabelSummary | None = Field(None, description="Current label; null when unlabelled.")


class FacetValue(BaseModel):
    value: str | bool | None = Field(description="A value of the column (null: none).")
    count: int = Field(description="Repositories with this value under the request's filters.")


class Facet(BaseModel):
    values: list[FacetValue] = Field(description="Most frequent first.")
    truncated: bool = Field(description="True when more values exist than are listed.")


class RepoPage(BaseModel):
    total: int = Field(description="Repositories matching the filters, over all pages.")
    limit: int
    offset: int
    next: str | None = Field(
        description="URL of the next page (also in the `Link` header); null on the last page."
    )
    next_cursor: str | None = Field(description="The `cursor` value of the next page.")
    facets: dict[str, Facet] = Field(
        default_factory=dict, description="Counts per value of each `facet` asked for."
    )
    items: list[RepoItem]


class Observation(BaseModel):
    run_id: int
    observed_at: UtcDatetime
    stars: int
    forks: int | None = None


class StarPoint(BaseModel):
    month: str = Field(description="YYYY-MM.")
    stars: int


class RepoDetail(BaseModel):
    id: int
    full_name: str
    owner: str
    name: str
    names: list[str] = Field(description="Every name seen for this repository, oldest first.")
    description: str | None = None
    language: str | None = None
    license: str | None = None
    topics: list[str] = Field(default_factory=list)
    homepage: str | None = None
    created_at: UtcDatetime | None = None
    pushed_at: UtcDatetime | None = None
    archived: bool | None = None
    stars: int | None = None
    forks: int | None = None
    status: str
    first_seen_at: UtcDatetime
    last_seen_at: UtcDatetime
    as_of: date | None = Field(None, description="The date `label` refers to; null for now.")
    label: LabelDetail | None = Field(None, description="The label in force (at `as_of`).")
    label_history: list[LabelDetail] = Field(description="Every label given, oldest first.")
    observations: list[Observation] = Field(description="Latest star observations, newest first.")
    star_series: list[StarPoint] = Field(
        description="Stars at the last observation of each month, oldest first."
    )


class CategoryCount(BaseModel):
    category: str
    repos: int


class LayerCount(BaseModel):
    layer: str
    repos: int
    categories: list[CategoryCount]


class Summary(BaseModel):
    total: int = Field(description="Active repositories.")
    human_confirmed: int | None = Field(None, description="Labels a person gave or confirmed.")
    ai_total: int = Field(description="Active repositories labelled as AI (not other/unlabelled).")
    layers: list[LayerCount]


class TaxonomyCategory(BaseModel):
    name: str
    layer: str
    is_ai: bool
    definition: str
    subcategories: list[str]


class Taxonomy(BaseModel):
    """The taxonomy as ``classifier.taxonomy.taxonomy_as_dict()`` gives it."""

    version: str
    layers: list[str]
    categories: list[TaxonomyCategory]
    hard_cases: list[str] = Field(description="How the hard cases are decided.")


ALL_SUBCATEGORIES = sorted({sub for c in taxonomy.CATEGORIES.values() for sub in c.subcategories})
NOTE_MAX_LENGTH = 2000


def _utf8(value: str | None) -> str | None:
    """Refuse text that is not valid Unicode (a lone surrogate cannot be stored)."""
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from exc
    return value


class LabelChange(BaseModel):
    """A human label. The subcategory, when given, must be one of the category's."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(
        description="A category of the taxonomy (see /v1/taxonomy).",
        json_schema_extra={"enum": list(taxonomy.CATEGORIES)},
    )
    subcategory: str | None = Field(
        None,
        description="A subcategory of `category` (see /v1/taxonomy).",
        json_schema_extra={"anyOf": [{"enum": ALL_SUBCATEGORIES}, {"type": "null"}]},
    )
    note: str | None = Field(
        None, max_length=NOTE_MAX_LENGTH, description="Why; kept in the label history."
    )

    _valid_text = field_validator("category", "subcategory", "note")(_utf8)


class EndpointInfo(BaseModel):
    path: str
    methods: list[str]
    summary: str | None = None


class Index(BaseModel):
    endpoints: list[EndpointInfo]
    docs: str = "/docs"
    openapi: str = "/openapi.json"


def label_summary(row: dict[str, Any]) -> LabelSummary | None:
    """The label columns of a ``labelled_repositories`` row, or None when unlabelled."""
    if row.get("category") is None:
        return None
    return LabelSummary.model_validate(row)


# --- analytics and releases: counts/monthly, trends, releases ------------------------------------

RELEASE_FIELD = Field(
    description="The release the figures come from (YYYY-MM-DD.N); null: live figures, as no "
    "release is published yet."
)
DATA_DATE_FIELD = Field(description="Date of the newest data behind the figures (YYYY-MM-DD).")


class SeriesPoint(BaseModel):
    month: str = Field(description="YYYY-MM.")
    layer: str
    category: str | None = Field(description="Null when `by=layer`.")
    subcategory: str | None = Field(
        description="Null unless `by=subcategory` (`unspecified` for labels naming none)."
    )
    new_repos: int = Field(description="Repositories dated in this month.")
    cumulative_repos: int | None = Field(
        description="Repositories dated in this month or before; null when `cumulative=false`."
    )


class MonthlySeries(BaseModel):
    release: str | None = RELEASE_FIELD
    data_date: date | None = DATA_DATE_FIELD
    by: str = Field(description="layer | category | subcategory")
    basis: str = Field(
        description="created: creation month; crossed: month the repository reached the star "
        "threshold (`unknown_crossing` tells how many have no known crossing month)."
    )
    cumulative: bool
    unknown_crossing: int = Field(
        description="Counted repositories (under the filters) whose crossing month is unknown: "
        "they are in the created basis but left out of the crossed one."
    )
    items: list[SeriesPoint] = Field(description="Oldest month first; no month after the data.")
    human_confirmed: int | None = Field(
        None, description="Active repositories whose label a person gave or confirmed."
    )
    estimated: EstimatedCounts | None = Field(
        None,
        description="With `estimate=true`: the estimated true counts (not the labelled ones), "
        "their method and 90% interval; null before the first estimate.",
    )


class GrowthRow(BaseModel):
    layer: str
    category: str | None = Field(description="Null when `by=layer`.")
    repos: int
    repos_with_history: int = Field(
        description="Repositories with an observation N to 2N days before the data date."
    )
    stars_gained: int


class Mover(BaseModel):
    layer: str
    category: str
    rank: int = Field(description="1 = most stars gained in its category.")
    repo_id: int
    full_name: str
    stars: int
    stars_gained: int


class ShareRow(BaseModel):
    month: str = Field(description="YYYY-MM.")
    layer: str
    category: str | None = Field(description="Null when `by=layer`.")
    new_repos: int
    cumulative_repos: int
    share: float | None = Field(description="Share of the month's cumulative total (sums to 1).")
    share_of_new: float | None = Field(description="Share of the month's new repositories.")


class LayerStars(BaseModel):
    layer: str
    repos: int
    stars: int
    share: float = Field(description="Share of all stars.")


class LanguageShare(BaseModel):
    layer: str
    language: str = Field(description="GitHub's main language; `unknown` when none.")
    repos: int
    share: float = Field(description="Share of the layer's repositories.")


class Trends(BaseModel):
    release: str | None = RELEASE_FIELD
    data_date: date | None = DATA_DATE_FIELD
    window_days: int = Field(description="7, 30 or 90.")
    by: str = Field(description="layer | category: the groups of `growth` and `shares`.")
    basis: str = Field(description="The basis of `shares`: created | crossed.")
    growth: list[GrowthRow]
    movers: list[Mover] = Field(description="The top `limit` repositories of each category.")
    shares: list[ShareRow]
    stars: list[LayerStars]
    languages: list[LanguageShare] = Field(description="The top languages of each layer.")


class ReleaseSummary(BaseModel):
    id: str = Field(description="YYYY-MM-DD.N: the Nth release published that day (UTC).")
    published_at: datetime
    data_date: date | None = DATA_DATE_FIELD
    url: str
    download_url: str = Field(description="A zip of one Parquet file per table.")


class ReleaseList(BaseModel):
    items: list[ReleaseSummary] = Field(description="Newest first.")


class ReleaseDetail(ReleaseSummary):
    tables: list[str] = Field(description="The frozen tables (each a Parquet file in the zip).")
    citation: str = Field(description="How to cite figures of this release.")
    methodology: dict[str, Any] = Field(
        description="Queries, threshold, crawl dates, taxonomy and model versions, measured "
        "accuracy and count error (`unknown` where not measured)."
    )


# --- estimated counts and the review queue (classifier/quantify.py, classifier/estimation.py) ---


class EstimatedMonth(BaseModel):
    month: str = Field(description="Creation month, YYYY-MM.")
    layer: str
    category: str
    estimate: float = Field(description="Estimated true count (cumulative unless asked not to).")
    lo: float = Field(description="Lower end of the interval.")
    hi: float = Field(description="Upper end of the interval.")


class EstimatedCounts(BaseModel):
    """Estimates of the true counts: the labelled counts corrected for the classifier's measured
    confusion, with an interval. Not the labelled counts."""

    method: str = Field(description="Quantification method, e.g. `acc` (adjusted count).")
    model_version: str
    computed_at: UtcDatetime
    interval_level: float = Field(description="Coverage of [lo, hi], e.g. 0.9.")
    cumulative: bool
    human_confirmed: int = Field(description="Human-confirmed labels the estimate counts as sure.")
    items: list[EstimatedMonth]


class ReviewAlternative(BaseModel):
    category: str
    probability: float


class ReviewItem(BaseModel):
    rank: int = Field(description=(
        "1 = answer first. The queue goes by review score until 5% of the repositories are "
        "human-confirmed, then in a fixed random order (a calibration sample)."))
    full_name: str
    description: str | None = None
    language: str | None = None
    stars: int | None = None
    created_at: UtcDatetime | None = None
    label: LabelSummary | None = Field(None, description="Current machine label.")
    rationale: str | None = None
    alternatives: list[ReviewAlternative] = Field(
        description="Categories by probability (adjusted to the estimated shares), likeliest first."
    )
    review_score: float = Field(
        description="Expected direct change of the relative count error a confirmation brings."
    )
    answer: str = Field(description="Where to send the answer (PUT, needs X-API-Key).")


class ReviewQueue(BaseModel):
    total: int = Field(description="Repositories without a human label, over all pages.")
    human_confirmed: int
    model_version: str | None = None
    limit: int
    offset: int
    items: list[ReviewItem]
