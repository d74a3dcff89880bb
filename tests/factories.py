"""Seed a throwaway warehouse through the warehouse's own functions (made-up repositories).

``seed_sample(con)`` gives a small, fixed population that covers every layer, a rename, a
vanished repository, an unlabelled one and a label history; ``make_repo`` / ``add_repositories`` /
``add_label`` build anything else a test needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb

from classifier.taxonomy import TAXONOMY_VERSION, layer_of
from warehouse.labels import LabelRecord, insert_labels
from warehouse.repos import (
    VANISHED,
    RepoRecord,
    record_observations,
    set_status,
    upsert_repositories,
)

FIRST_CRAWL = datetime(2026, 10, 1, 6, 0)
SECOND_CRAWL = datetime(2026, 11, 1, 6, 0)


def make_repo(
    repo_id: int,
    full_name: str,
    *,
    created: date,
    stars: int = 1000,
    description: str | None = None,
    language: str | None = "Python",
    topics: Sequence[str] = (),
    forks: int | None = None,
) -> RepoRecord:
    return RepoRecord(
        id=repo_id,
        full_name=full_name,
        description=description,
        language=language,
        topics=list(topics),
        created_at=datetime.combine(created, datetime.min.time()),
        stars=stars,
        forks=forks if forks is not None else stars // 10,
    )


def add_repositories(
    con: duckdb.DuckDBPyConnection,
    records: Sequence[RepoRecord],
    *,
    seen_at: datetime = SECOND_CRAWL,
    run_id: int = 1,
) -> None:
    """Save repositories as one crawl run would: upsert plus one observation each."""
    upsert_repositories(con, records, seen_at)
    record_observations(con, run_id, records, seen_at)


def add_label(
    con: duckdb.DuckDBPyConnection,
    repo_id: int,
    category: str,
    *,
    method: str = "model",
    created_at: datetime = SECOND_CRAWL,
    subcategory: str | None = None,
    confidence: float | None = 0.9,
    note: str | None = None,
) -> None:
    insert_labels(
        con,
        [
            LabelRecord(
                repo_id=repo_id,
                layer=layer_of(category),
                category=category,
                subcategory=subcategory,
                method=method,
                confidence=confidence,
                taxonomy_version=TAXONOMY_VERSION,
                model_version="test-model" if method == "model" else None,
                note=note,
                created_at=created_at,
            )
        ],
    )


@dataclass
class Sample:
    """What ``seed_sample`` put in the warehouse, for assertions."""

    categories: dict[str, str | None] = field(default_factory=dict)  # full_name → category
    active: set[str] = field(default_factory=set)
    vanished: set[str] = field(default_factory=set)
    renamed: dict[str, str] = field(default_factory=dict)  # former name → current name


_SAMPLE: tuple[tuple[RepoRecord, str | None], ...] = (
    (
        make_repo(101, "acme/chat-studio", created=date(2023, 2, 10), stars=5000,
                  language="TypeScript", description="A desktop chat app for local models",
                  topics=("chat", "llm")),
        "applications",
    ),
    (
        make_repo(102, "bolt/ragkit", created=date(2023, 5, 2), stars=12000,
                  description="Framework for retrieval-augmented generation pipelines"),
        "app-development",
    ),
    (
        make_repo(103, "tensorlab/tiny-llm", created=date(2023, 5, 20), stars=800,
                  description="Weights and code of the Tiny LLM family"),
        "models",
    ),
    (
        make_repo(104, "quantfast/q4", created=date(2022, 11, 1), stars=2500, language="C++",
                  description="Quantisation kernels for LLM inference"),
        "model-development",
    ),
    (
        make_repo(105, "serveit/llm-serve", created=date(2023, 1, 15), stars=30000,
                  description="High-throughput LLM serving engine"),
        "infrastructure",
    ),
    (
        make_repo(106, "webby/web-framework", created=date(2021, 3, 1), stars=60000,
                  language="Go", description="A fast web framework"),
        "other",
    ),
    (
        make_repo(107, "gone/old-agent", created=date(2023, 3, 1), stars=700,
                  description="An agent toolkit, since deleted"),
        "app-development",
    ),
    (
        make_repo(108, "newco/fresh-tool", created=date(2024, 1, 1), stars=900,
                  language="Rust", description="Not classified yet"),
        None,
    ),
)  # fmt: skip


def seed_sample(con: duckdb.DuckDBPyConnection) -> Sample:
    """Two crawls of eight made-up repositories, with labels; see ``Sample`` for what is where.

    - ``bolt/ragkit`` was ``oldbolt/ragkit`` in the first crawl, and has a rules label
      (infrastructure, 2026-09-01) before its model label (app-development, 2026-11-01).
    - ``gone/old-agent`` vanished after the first crawl; ``newco/fresh-tool`` has no label.
    """
    records = [record for record, _ in _SAMPLE]
    first = [
        make_repo(102, "oldbolt/ragkit", created=date(2023, 5, 2), stars=9000,
                  description=records[1].description)
        if record.id == 102 else record
        for record in records
    ]  # fmt: skip
    add_repositories(con, first, seen_at=FIRST_CRAWL, run_id=1)
    add_repositories(con, [r for r in records if r.id != 107], seen_at=SECOND_CRAWL, run_id=2)
    set_status(con, [107], VANISHED, SECOND_CRAWL)
    add_label(con, 102, "infrastructure", method="rules", created_at=datetime(2026, 9, 1))
    for record, category in _SAMPLE:
        if category is not None:
            add_label(con, record.id, category, created_at=SECOND_CRAWL)
    return Sample(
        categories={record.full_name: category for record, category in _SAMPLE},
        active={record.full_name for record in records if record.id != 107},
        vanished={"gone/old-agent"},
        renamed={"oldbolt/ragkit": "bolt/ragkit"},
    )
