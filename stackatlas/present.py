"""Presenting pipeline results on the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from stackatlas.pipeline import PipelineResult

console = Console(soft_wrap=True)


def layer_table(summary: pl.DataFrame) -> Table:
    per_layer = summary.group_by("layer").agg(pl.col("repos").sum()).sort("repos", descending=True)
    total = int(per_layer["repos"].sum()) if per_layer.height else 0
    table = Table("layer", "repos", "share", title=f"{total} repositories per layer")
    for layer, repos in per_layer.iter_rows():
        table.add_row(layer, str(repos), f"{repos / total:.0%}" if total else "-")
    return table


def category_table(summary: pl.DataFrame) -> Table:
    table = Table("layer", "category", "repos", title="per category")
    for layer, category, repos in summary.iter_rows():
        table.add_row(layer, category, str(repos))
    return table


def print_summary(result: PipelineResult, *, database: str) -> None:
    console.print(layer_table(result.summary))
    console.print(category_table(result.summary))
    console.print(f"crawl: {result.crawl}")
    console.print(f"classification: {result.classify.summary_line()}")
    console.print(f"release: {result.release.id} (data date {result.release.data_date})")
    if result.estimates is not None:
        console.print(
            f"estimated counts: {result.estimates.method}, 90% intervals, model "
            f"{result.estimates.model_version} (labelled and estimated side by side: "
            "/v1/counts/monthly?estimate=true)")
    console.print(f"database: {database}")
