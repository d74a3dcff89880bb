"""A small realistic warehouse for dashboard and report tests: generated repositories, labels
with subcategories, two crawls (so movers and star series exist), through warehouse functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import duckdb

from classifier.taxonomy import TAXONOMY_VERSION, layer_of
from standins.sample import generate_labelled
from tests.factories import FIRST_CRAWL, SECOND_CRAWL, add_repositories, make_repo
from warehouse.labels import LabelRecord, insert_labels

LABELLED_AT = datetime(2026, 11, 1, 7, 0)


def seed_population(con: duckdb.DuckDBPyConnection, n: int = 400, seed: int = 3) -> int:
    """``n`` generated repositories (most of them AI), labelled as generated; returns n."""
    labelled = generate_labelled(n, seed)
    records = [
        make_repo(
            index + 1, item.repo.full_name, created=item.repo.created_at,
            stars=item.repo.stars, description=item.repo.description,
            language=item.repo.language, topics=item.repo.topics,
        )
        for index, item in enumerate(labelled)
    ]  # fmt: skip
    # One in three was below the threshold at the first crawl: its crossing month is known.
    earlier = [
        replace(r, stars=300 if r.id % 3 == 0 else max(500, r.stars - (r.id * 37) % 900))
        for r in records
    ]
    add_repositories(con, earlier, seen_at=FIRST_CRAWL, run_id=1)
    add_repositories(con, records, seen_at=SECOND_CRAWL, run_id=2)
    labels = [
        LabelRecord(
            repo_id=record.id, layer=layer_of(item.category), category=item.category,
            subcategory=item.subcategory or None, method="model", confidence=0.8,
            taxonomy_version=TAXONOMY_VERSION, model_version="test-model",
            rationale=f"generated as {item.category}", created_at=LABELLED_AT,
        )
        for record, item in zip(records, labelled, strict=True)
    ]  # fmt: skip
    insert_labels(con, labels)
    return n
