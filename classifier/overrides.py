"""Human labels: they win over every machine label, stay in the history and train the next model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from classifier import taxonomy
from stackatlas.errors import LabelsFileError, NotFoundError
from warehouse.labels import LabelRecord, current_label, insert_labels
from warehouse.repos import find_repository


class InvalidLabelError(LabelsFileError):
    """A human label names a category outside the taxonomy."""

    http_status = 422


def repository_or_error(con: duckdb.DuckDBPyConnection, full_name: str) -> dict[str, Any]:
    repo = find_repository(con, full_name)
    if repo is None:
        raise NotFoundError(
            f"repository {full_name} is not in the warehouse",
            "check the OWNER/NAME spelling, or crawl it first with `stackatlas crawl`",
        )
    return repo


def validate_category(category: str) -> str:
    if category not in taxonomy.CATEGORIES:
        raise InvalidLabelError(
            f"unknown category {category!r}",
            f"use one of: {', '.join(taxonomy.CATEGORIES)}",
        )
    return category


def validate_label(category: str, subcategory: str | None) -> None:
    """The category must be the taxonomy's, and the subcategory (if any) one of that category's."""
    validate_category(category)
    allowed = taxonomy.CATEGORIES[category].subcategories
    if subcategory is not None and subcategory not in allowed:
        raise InvalidLabelError(
            f"unknown subcategory {subcategory!r} of category {category!r}",
            f"use one of: {', '.join(allowed)}" if allowed else f"{category} has no subcategories",
        )


def set_human_label(
    con: duckdb.DuckDBPyConnection,
    full_name: str,
    category: str,
    subcategory: str | None = None,
    note: str | None = None,
    *,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record a human label for the repository and return the label now in force."""
    validate_label(category, subcategory)
    repo = repository_or_error(con, full_name)
    label = LabelRecord(
        repo_id=repo["id"],
        layer=taxonomy.layer_of(category),
        category=category,
        subcategory=subcategory,
        confidence=1.0,
        method="human",
        taxonomy_version=taxonomy.TAXONOMY_VERSION,
        note=note,
        text_hash=repo["text_hash"],
        created_at=at or datetime.now(UTC).replace(tzinfo=None),
    )
    insert_labels(con, [label])
    in_force = current_label(con, repo["id"])
    assert in_force is not None
    return in_force
