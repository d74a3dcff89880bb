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


class MonthlyCount(BaseModel):
    month: str = Field(description="Creation month, YYYY-MM.")
    layer: str
    category: str
    new_repos: int
    cumulative_repos: int


class MonthlyCounts(BaseModel):
    items: list[MonthlyCount] = Field(description="Labelled counts: what the labels say.")
    human_confirmed: int | None = Field(None, description="Labels a person gave or confirmed.")
    estimated: EstimatedCounts | None = Field(
        None, description="With `estimate=true`: estimated true counts, method and interval.")


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
    computed_at: datetime
    interval_level: float = Field(description="Coverage of [lo, hi], e.g. 0.9.")
    cumulative: bool
    human_confirmed: int = Field(description="Human-confirmed labels the estimate counts as sure.")
    items: list[EstimatedMonth]


class ReviewAlternative(BaseModel):
    category: str
    probability: float


class ReviewItem(BaseModel):
    rank: int = Field(description="1 = the confirmation expected to help the counts most.")
    full_name: str
    description: str | None = None
    language: str | None = None
    stars: int | None = None
    created_at: datetime | None = None
    label: LabelSummary | None = Field(None, description="Current machine label.")
    rationale: str | None = None
    alternatives: list[ReviewAlternative] = Field(
        description="Categories by probability (adjusted to the estimated shares), likeliest first."
    )
    review_score: float = Field(
        description="Expected change of the relative count error a confirmation brings."
    )
    answer: str = Field(description="Where to send the answer (PUT, needs X-API-Key).")


class ReviewQueue(BaseModel):
    total: int = Field(description="Repositories without a human label, over all pages.")
    human_confirmed: int
    model_version: str | None = None
    limit: int
    offset: int
    items: list[ReviewItem]
