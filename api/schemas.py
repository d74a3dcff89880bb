"""Response and request models, one per resource."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: str = Field(description="`ok` when the database answers.")
    database: str = Field(description="The DuckDB file served (or `:memory:`).")
    repositories: int = Field(description="Repositories in the warehouse, any status.")
    schema_version: int = Field(description="Latest applied warehouse migration.")


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
    created_at: datetime


class RepoItem(BaseModel):
    full_name: str
    id: int
    description: str | None = None
    stars: int | None = None
    forks: int | None = None
    language: str | None = None
    topics: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    status: str
    label: LabelSummary | None = Field(None, description="Current label; null when unlabelled.")


class RepoPage(BaseModel):
    total: int = Field(description="Repositories matching the filters, over all pages.")
    limit: int
    offset: int
    items: list[RepoItem]


class Observation(BaseModel):
    run_id: int
    observed_at: datetime
    stars: int
    forks: int | None = None


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
    created_at: datetime | None = None
    pushed_at: datetime | None = None
    archived: bool | None = None
    stars: int | None = None
    forks: int | None = None
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    as_of: date | None = Field(None, description="The date `label` refers to; null for now.")
    label: LabelDetail | None = Field(None, description="The label in force (at `as_of`).")
    label_history: list[LabelDetail] = Field(description="Every label given, oldest first.")
    observations: list[Observation] = Field(description="Latest star observations, newest first.")


class CategoryCount(BaseModel):
    category: str
    repos: int


class LayerCount(BaseModel):
    layer: str
    repos: int
    categories: list[CategoryCount]


class Summary(BaseModel):
    total: int = Field(description="Active repositories.")
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


class LabelChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(description="A category of the taxonomy (see /v1/taxonomy).")
    subcategory: str | None = None
    note: str | None = Field(None, description="Why; kept in the label history.")


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
