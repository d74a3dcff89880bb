"""The dashboard page: the cumulative chart, a per-layer summary and links, all in one offline file.

Fetch (``load_dashboard_data``), present (``render_dashboard``) and the per-data-version cache
(``DashboardCache``) are separate so that reports can reuse the first two.
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from dashboards.charts import cumulative_chart, embed_snippet, javascript_bundle
from warehouse.counts import category_summary, monthly_counts
from warehouse.queries import data_version

log = logging.getLogger(__name__)

LINKS: tuple[tuple[str, str], ...] = (
    ("/docs", "API documentation (Swagger UI)"),
    ("/openapi.json", "OpenAPI schema"),
    ("/v1", "endpoint index"),
    ("/v1/repos", "repositories (JSON; ?format=csv)"),
    ("/v1/counts/monthly?format=csv", "monthly counts (CSV)"),
    ("/v1/summary", "counts per layer and category"),
    ("/v1/taxonomy", "the taxonomy"),
    ("/healthz", "health"),
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; padding: 0 1rem;
       max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
#chart { width: 100%; } .muted { color: #666; font-size: .9rem; }
table { border-collapse: collapse; } td, th { padding: .3rem .8rem; text-align: left; }
th { border-bottom: 1px solid #999; } td.n, th.n { text-align: right; }
tr.total td { border-top: 1px solid #999; font-weight: 600; }
"""


@dataclass(frozen=True)
class DashboardData:
    monthly: pl.DataFrame  # month, layer, category, new_repos, cumulative_repos (no `other`)
    summary: pl.DataFrame  # layer, category, repos (active repositories)
    generated_at: datetime


def load_dashboard_data(con: duckdb.DuckDBPyConnection) -> DashboardData:
    return DashboardData(
        monthly=monthly_counts(con, include_other=False),
        summary=category_summary(con),
        generated_at=datetime.now().replace(microsecond=0),
    )


def layer_rows(summary: pl.DataFrame) -> list[dict[str, Any]]:
    """One row per layer: total and its categories, largest first."""
    rows = []
    for (layer,), group in summary.group_by("layer", maintain_order=True):
        ordered = group.sort("repos", descending=True)
        rows.append(
            {
                "layer": layer,
                "repos": int(ordered["repos"].sum()),
                "categories": list(zip(ordered["category"], ordered["repos"], strict=True)),
            }
        )
    return sorted(rows, key=lambda row: row["repos"], reverse=True)


def _summary_table(summary: pl.DataFrame) -> str:
    rows = layer_rows(summary)
    if not rows:
        return "<p class='muted'>No repositories yet.</p>"
    body = "".join(
        f"<tr><td>{html.escape(row['layer'])}</td><td class='n'>{row['repos']:,}</td><td>"
        + ", ".join(f"{html.escape(c)} ({n:,})" for c, n in row["categories"])
        + "</td></tr>"
        for row in rows
    )
    total = sum(row["repos"] for row in rows)
    return (
        "<table><thead><tr><th>layer</th><th class='n'>repositories</th><th>categories</th>"
        f"</tr></thead><tbody>{body}<tr class='total'><td>all</td><td class='n'>{total:,}</td>"
        "<td></td></tr></tbody></table>"
    )


def _chart_section(monthly: pl.DataFrame) -> str:
    if monthly.is_empty():
        return (
            "<p class='muted'>No labelled repositories yet: run <code>stackatlas crawl</code> "
            "and <code>stackatlas classify</code> (or <code>stackatlas demo</code>).</p>"
        )
    chart = cumulative_chart(monthly)
    return (
        f"<div id='chart'></div>\n<script>{javascript_bundle()}</script>\n"
        f"{embed_snippet(chart, 'chart')}"
    )


def _links() -> str:
    items = "".join(
        f"<li><a href='{html.escape(href)}'>{html.escape(href)}</a> — {html.escape(text)}</li>"
        for href, text in LINKS
    )
    return f"<ul>{items}</ul>"


def render_dashboard(data: DashboardData) -> str:
    """The whole page as one HTML document with every script inline."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stackatlas — the AI stack on GitHub</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>stackatlas — the AI stack on GitHub</h1>
<p class="muted">Active repositories by category (excluding <code>other</code>),
counted by the month each was created. Generated {data.generated_at.isoformat(sep=" ")}.</p>
{_chart_section(data.monthly)}
<h2>Repositories per layer</h2>
{_summary_table(data.summary)}
<h2>Data and API</h2>
{_links()}
</body>
</html>
"""


class DashboardCache:
    """Renders the page once per data version (labels, repositories, statuses), not per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[Any, ...] | None = None
        self._page: str | None = None

    def page(self, con: duckdb.DuckDBPyConnection) -> str:
        version = data_version(con)
        with self._lock:
            if self._page is None or version != self._version:
                log.info("rendering the dashboard for data version %s", version)
                self._page = render_dashboard(load_dashboard_data(con))
                self._version = version
            return self._page
