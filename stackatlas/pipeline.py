"""The whole job, crawl → classify → estimate → count, as one function for CLI, demo, scheduler."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from classifier.service import ClassifyResult, classify_repositories, refresh_estimates
from collector.crawl import CrawlResult, run_crawl
from stackatlas.settings import Settings
from warehouse.counts import category_summary
from warehouse.estimates import EstimateRun

log = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    crawl: CrawlResult
    classify: ClassifyResult
    summary: pl.DataFrame
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
    return PipelineResult(crawl_result, classify_result, category_summary(con), estimates)
