"""The whole job, crawl → classify → estimate → release, as functions the CLI, demo and scheduler
share."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from classifier import taxonomy
from classifier.model import saved_metadata
from classifier.service import (
    ClassifyResult,
    classify_repositories,
    models_dir,
    refresh_estimates,
)
from collector.crawl import CrawlResult, run_crawl
from stackatlas.settings import Settings
from warehouse.analytics import refresh_analytics
from warehouse.counts import category_summary
from warehouse.estimates import EstimateRun
from warehouse.releases import Release, crawl_facts, publish_release

log = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    crawl: CrawlResult
    classify: ClassifyResult
    summary: pl.DataFrame
    release: Release
    estimates: EstimateRun | None = None


def run_pipeline(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    all_500: bool = False,
    progress: bool = True,
    use_llm: bool | None = None,
    **crawl_options: Any,
) -> PipelineResult:
    """Crawl into the warehouse, label what needs a label, and summarise per layer and category."""
    crawl_result = run_crawl(con, settings, all_500=all_500, progress=progress, **crawl_options)
    log.info("crawl finished: %s", crawl_result)
    classify_result = classify_repositories(con, settings, use_llm=use_llm)
    log.info("classification finished: %s", classify_result.summary_line())
    estimates = refresh_estimates(con, settings)
    release = release_step(con, settings)
    return PipelineResult(
        crawl_result, classify_result, category_summary(con), release, estimates
    )



# What a release says of how its figures were made; the measured quality comes from the model
# artifact's metadata when an evaluation stored it there.
_BASES = {
    "created": "month the repository was created",
    "crossed": (
        "month the repository first reached the threshold: GitHub's star history where fetched, "
        "else the first crawl that saw it at or above the threshold when an earlier crawl saw it "
        "below or it was created that month; otherwise unknown (counted, not drawn)"
    ),
}
_QUALITY_KEYS = ("layer_accuracy", "category_accuracy", "macro_f1", "count_error")


def model_quality(settings: Settings) -> dict[str, Any]:
    """The current model's version and its measured accuracy and count error, where recorded."""
    metadata = saved_metadata(models_dir(settings))
    if metadata is None:
        return {"version": None, "status": "unknown", "reason": "no saved model artifact"}
    measured = metadata.get("evaluation") or {}
    quality: dict[str, Any] = {
        "version": metadata.get("version"),
        "trained_at": metadata.get("created_at"),
        "training_labels": metadata.get("labels"),
    }
    for key in _QUALITY_KEYS:
        quality[key] = measured.get(key, "unknown")
    if not measured:
        quality["status"] = "unknown"
        quality["reason"] = "the model artifact records no evaluation (metadata key 'evaluation')"
    return quality


def release_methodology(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    facts = crawl_facts(con)
    meta = con.execute("SELECT repos, unknown_crossing FROM analytics_meta").fetchall()
    repos, unknown = meta[0] if meta else (0, 0)
    return {
        "threshold": settings.min_stars,
        "queries": {"query_sets": facts["crawl"]["query_sets"], "modes": facts["crawl"]["modes"]},
        "crawl": facts["crawl"],
        "taxonomy_version": taxonomy.TAXONOMY_VERSION,
        "labels": facts["labels"],
        "model": model_quality(settings),
        "counted": "active repositories with a label and a creation date",
        "repos": repos,
        "unknown_crossing": unknown,
        "bases": _BASES,
        "growth": (
            "stars now minus stars in the newest crawl run that ended between 2N and N days "
            "before the data date; none for a repository that run did not observe"
        ),
    }


def release_step(con: duckdb.DuckDBPyConnection, settings: Settings) -> Release:
    """Refresh the analytics and publish them, with the labels, as a new frozen release."""
    refresh_analytics(con, threshold=settings.min_stars)
    release = publish_release(con, release_methodology(con, settings))
    log.info("published release %s (data date %s)", release.id, release.data_date)
    return release
