"""Response and request models, one per resource."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
    items: list[MonthlyCount]


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

    category: str = Field(
        max_length=100, description="A category of the taxonomy (see /v1/taxonomy)."
    )
    subcategory: str | None = Field(None, max_length=100)
    note: str | None = Field(None, max_length=2000, description="Why; kept in the label history.")

    @field_validator("category", "subcategory", "note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        """JSON may carry a lone surrogate (``"\ud800"``): no valid text, and unstorable."""
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("holds an invalid character (a lone surrogate)") from None
        return value


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
