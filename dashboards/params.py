"""What a chart shows: one parameter set shared by the pages, the exports and the reports.

The page keeps these in its URL query (shareable state) and asks ``/v1/charts/{name}.json`` with the
same query, so a link, an exported PNG and a report figure of the same parameters show the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal
from urllib.parse import urlencode

ChartName = Literal["stack", "share", "new", "stars"]
CHART_NAMES: tuple[ChartName, ...] = ("stack", "share", "new", "stars")
Level = Literal["layer", "category", "subcategory"]
Basis = Literal["created", "crossed"]
YScale = Literal["linear", "log"]
Theme = Literal["color", "grey"]

CHART_TITLES: dict[ChartName, str] = {
    "stack": "The AI stack over time",
    "share": "Share of the AI stack",
    "new": "New AI repositories per month",
    "stars": "Stars over time",
}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> date:
    """'YYYY-MM' → the first day of that month; ValueError with an example otherwise."""
    match = _MONTH.match(value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2024-03), got {value!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


@dataclass(frozen=True)
class ChartParams:
    """The filters and toggles of a chart; defaults draw the whole AI stack by category."""

    basis: Basis = "created"
    level: Level = "category"
    yscale: YScale = "linear"
    start: date | None = None
    end: date | None = None
    layers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    release: str | None = None
    repo: str | None = None
    theme: Theme = "color"
    # The stack chart by category and creation month draws the estimated counts beside the
    # labelled ones (dashed line, shaded interval) unless this is False.
    estimate: bool = True

    def query(self) -> dict[str, str | list[str]]:
        """The URL query that reproduces these parameters (defaults left out)."""
        items: dict[str, str | list[str]] = {}
        defaults = ChartParams()
        for name in ("basis", "level", "yscale", "release", "repo", "theme"):
            value = getattr(self, name)
            if value is not None and value != getattr(defaults, name):
                items[name] = value
        if self.start is not None:
            items["from"] = self.start.strftime("%Y-%m")
        if self.end is not None:
            items["to"] = self.end.strftime("%Y-%m")
        if self.layers:
            items["layer"] = list(self.layers)
        if self.categories:
            items["category"] = list(self.categories)
        if not self.estimate:
            items["estimate"] = "false"
        return items

    def query_string(self) -> str:
        return urlencode(self.query(), doseq=True)

    def greyscale(self) -> ChartParams:
        return replace(self, theme="grey")

    @property
    def draws_estimates(self) -> bool:
        """Estimates exist per category by creation month: only that view can draw them."""
        return self.estimate and self.level == "category" and self.basis == "created"

    def slug(self) -> str:
        """A file-name-safe summary: basis, level, filters and range."""
        if self.repo:  # a repository's own series: no level or basis applies
            parts = [self.repo.replace("/", "_")]
        else:
            parts = [self.level, self.basis, *self.layers, *self.categories]
        if self.start or self.end:
            parts.append(
                f"{self.start.strftime('%Y%m') if self.start else 'start'}-"
                f"{self.end.strftime('%Y%m') if self.end else 'end'}"
            )
        if self.yscale == "log":
            parts.append("log")
        if not self.estimate:
            parts.append("no-estimate")
        if self.theme == "grey":
            parts.append("grey")
        return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip("-")
