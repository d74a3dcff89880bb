"""The dashboard pages: server-rendered HTML shells whose small script draws the charts.

Each chart page reads its state from the URL query (shareable links), fetches the Vega-Lite spec
from ``/v1/charts/{name}.json`` with that query and embeds it with vega-embed, which the app serves
itself (``/static/vega-<version>.js``): nothing is loaded from anywhere but the app.

Fetch (``page_facts``, the warehouse reads) and present (the ``*_page`` functions) are apart; the
taxonomy comes in as plain data so that dashboards import no other stage.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import polars as pl

from dashboards.charts import VEGALITE_VERSION
from dashboards.data import (
    ESTIMATED_MEANS,
    LABELLED_MEANS,
    ChartContext,
    chart_context,
    interval_text,
)
from dashboards.params import CHART_TITLES, ChartName, ChartParams
from warehouse.analytics import movers
from warehouse.labels import label_history
from warehouse.queries import RepoFilter, search_repositories

SITE = "stackatlas"
VEGA_SCRIPT = f"/static/vega-{VEGALITE_VERSION or 'latest'}.js"
NAV: tuple[tuple[str, str], ...] = (
    ("/", "Stack over time"),
    ("/share", "Share"),
    ("/new", "New per month"),
    ("/explore", "Explore"),
    ("/methodology", "Methodology"),
)
CHART_PATHS: dict[ChartName, str] = {"stack": "/", "share": "/share", "new": "/new"}
BASIS_LABELS = {"created": "creation month", "crossed": "month it reached the threshold"}


@dataclass(frozen=True)
class PageFacts:
    """What every page states in its header and footer."""

    context: ChartContext
    taxonomy: Mapping[str, Any]

    @property
    def categories(self) -> list[Mapping[str, Any]]:
        return [c for c in self.taxonomy["categories"] if c.get("is_ai", True)]

    @property
    def layers(self) -> list[str]:
        return [layer for layer in self.taxonomy["layers"] if layer != "none"]


def page_facts(
    con: duckdb.DuckDBPyConnection, taxonomy: Mapping[str, Any], threshold: int
) -> PageFacts:
    return PageFacts(chart_context(con, ChartParams(), threshold), taxonomy)


# --- building blocks ------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _nav(active: str, facts: PageFacts) -> str:
    links = "".join(
        f"<a href='{href}'{' aria-current=page' if href == active else ''}>{esc(text)}</a>"
        for href, text in NAV
    )
    categories = "".join(
        f"<a href='/category/{esc(c['name'])}'"
        f"{' aria-current=page' if active == '/category/' + c['name'] else ''}>"
        f"{esc(c['name'])}</a>"
        for c in facts.categories
    )
    return f"<nav class='top'>{links}</nav><nav class='cats'>Categories: {categories}</nav>"


def layout(title: str, body: str, facts: PageFacts, *, active: str, scripts: bool) -> str:
    """The page frame: header, navigation, body, footer with the data's date and release."""
    context = facts.context
    day = context.data_date.isoformat() if context.data_date else "no data yet"
    release = (
        f"<a href='/v1/releases/{esc(context.release)}'>{esc(context.release)}</a>"
        if context.release
        else esc(context.release_label)
    )
    # app.js first: it asks for the chart's data while the (larger) Vega bundle still loads.
    script_tags = (
        "<script src='/static/app.js'></script>\n"
        f"<script src='{VEGA_SCRIPT}' async onload='window.stackatlasVegaLoaded()'></script>"
        if scripts
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} — {SITE}</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="data:,">
</head>
<body>
<header><a class="brand" href="/">{SITE}</a> <span class="muted">the AI stack on GitHub</span>
{_nav(active, facts)}</header>
<main>
{body}
</main>
<footer class="muted">Repositories with ≥{context.threshold:,} stars · data to {esc(day)} ·
release {release} ·
<a href="/v1">API</a> · <a href="/docs">API docs</a> · <a href="/methodology">methodology</a>
</footer>
{script_tags}
</body>
</html>
"""


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    link: str | None = None,
    empty: str = "Nothing here yet.",
) -> str:
    """An HTML table of ``rows``; ``link`` names the column whose value links to its repo page."""
    if not rows:
        return f"<p class='muted'>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(_cell(row.get(key), key == link) for key, _ in columns) + "</tr>"
        for row in rows
    )
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _cell(value: object, is_link: bool) -> str:
    if is_link and value:
        return f"<td><a href='/repository/{esc(value)}'>{esc(value)}</a></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int | float):
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
        return f"<td class='n'>{shown}</td>"
    if isinstance(value, datetime):
        return f"<td class='when'>{esc(value.strftime('%Y-%m-%d %H:%M'))}</td>"
    if isinstance(value, date):
        return f"<td class='when'>{esc(value.isoformat())}</td>"
    if isinstance(value, list | tuple):
        return f"<td>{esc(', '.join(str(v) for v in value))}</td>"
    return f"<td>{esc(value)}</td>"


def _options(values: Iterable[tuple[str, str]], name: str) -> str:
    return "".join(
        f"<label><input type='radio' name='{name}' value='{esc(v)}'> {esc(text)}</label>"
        for v, text in values
    )


def _checks(values: Iterable[str], name: str) -> str:
    return "".join(
        f"<label><input type='checkbox' name='{name}' value='{esc(v)}'> {esc(v)}</label>"
        for v in values
    )


def chart_controls(facts: PageFacts, *, name: ChartName, fixed: Mapping[str, str]) -> str:
    """The toggles of a chart; each is a form field named after its URL parameter."""
    groups = [
        ("Count by", _options([("created", "creation month"),
                               ("crossed", f"reaching {facts.context.threshold:,} stars")],
                              "basis")),
        ("Level", _options([(lv, lv) for lv in ("layer", "category", "subcategory")], "level")),
    ]  # fmt: skip
    if name == "stack":
        groups.append(("Scale", _options([("linear", "linear"), ("log", "log")], "yscale")))
    if name == "stack" and facts.context.estimates is not None:
        groups.append(("Estimate (per category, creation month)",
                       _options([("true", "shown"), ("false", "hidden")], "estimate")))
    fields = "".join(
        f"<fieldset><legend>{esc(title)}</legend>{inputs}</fieldset>" for title, inputs in groups
    )
    range_fields = (
        "<fieldset><legend>Months</legend>"
        "<label>from <input type='month' name='from' min='2008-01'></label>"
        "<label>to <input type='month' name='to' min='2008-01'></label></fieldset>"
    )
    filters = ""
    if "category" not in fixed:
        filters = (
            "<details><summary>Filter layers and categories</summary>"
            f"<fieldset><legend>Layers</legend>{_checks(facts.layers, 'layer')}</fieldset>"
            "<fieldset><legend>Categories</legend>"
            f"{_checks([c['name'] for c in facts.categories], 'category')}</fieldset></details>"
        )
    return (
        f"<form class='controls' id='controls'>{fields}{range_fields}{filters}"
        "<button type='reset' id='reset'>Reset</button></form>"
    )


def chart_block(
    facts: PageFacts, *, name: ChartName, fixed: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None, controls: bool = True,
) -> str:  # fmt: skip
    """The chart, its controls, download links and the embeddable image URL."""
    fixed = dict(fixed or {})
    attributes = (
        f"data-chart='{esc(name)}' data-fixed='{esc(json.dumps(fixed))}' "
        f"data-defaults='{esc(json.dumps(dict(defaults or {})))}'"
    )
    controls_html = chart_controls(facts, name=name, fixed=fixed) if controls else ""
    return f"""<section class="chart-block" {attributes}>
{controls_html}
<figure><div id="chart" class="chart" role="img" aria-label="{esc(CHART_TITLES[name])}"></div>
<figcaption class="muted" id="chart-status">Loading the chart…</figcaption></figure>
{chart_notes(facts.context, name)}
<p class="downloads">Download: <a data-format="png" href="#">PNG</a> ·
<a data-format="png" data-dpi="300" href="#">PNG 300 dpi</a> ·
<a data-format="svg" href="#">SVG</a> ·
<a data-format="csv" href="#">CSV</a> · <a data-format="json" href="#">Vega-Lite</a></p>
<details class="embed"><summary>Embed this chart</summary>
<p>Paste into a README or article (the image follows the data):</p>
<textarea id="embed-code" readonly rows="3"></textarea></details>
</section>"""


def estimate_note(context: ChartContext) -> str | None:
    """Which line is which when the estimates are drawn; None when there are none."""
    served = context.estimates
    if served is None:
        return None
    return (
        f"Solid lines: labelled, {LABELLED_MEANS}. Dashed lines and shaded bands: estimated, "
        f"{ESTIMATED_MEANS} ({interval_text(served)}, method {served.method}, model version "
        f"{served.model_version}), drawn per category by creation month."
    )


def chart_notes(context: ChartContext, name: ChartName) -> str:
    """Beside a chart of counts: how to read the estimate, how many labels a person confirmed."""
    if name == "stars":
        return ""
    note = estimate_note(context) if name == "stack" else None
    items = [esc(note)] if note else []
    if confirmed := context.confirmed_text():
        items.append(f"<span id='human-confirmed'>{esc(confirmed)}</span> (release "
                     f"{esc(context.release_label)}); confirm more with "
                     "<code>stackatlas review</code>.")  # fmt: skip
    if not items:
        return ""
    return "<ul class='muted notes'>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


# --- pages ----------------------------------------------------------------------------------

_INTROS: dict[ChartName, str] = {
    "stack": "How many AI repositories each part of the stack holds, month by month. Click a "
    "legend entry to isolate it; the toggles and the link keep the view.",
    "share": "Each part's share of all AI repositories counted so far, month by month.",
    "new": "How many AI repositories each month added, by the month they were created (or "
    "reached the star threshold).",
}


def chart_page(name: ChartName, facts: PageFacts) -> str:
    body = (
        f"<h1>{esc(CHART_TITLES[name])}</h1><p class='intro'>{esc(_INTROS[name])}</p>"
        + chart_block(facts, name=name)
    )
    return layout(CHART_TITLES[name], body, facts, active=CHART_PATHS[name], scripts=True)


def _frame_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def category_page(
    con: duckdb.DuckDBPyConnection, category: Mapping[str, Any], facts: PageFacts
) -> str:
    name = str(category["name"])
    top = search_repositories(con, RepoFilter(categories=(name,)), limit=20)
    moving = _frame_rows(movers(con, category=name, limit=10, release=facts.context.release))
    wanted = {"rank": "#", "full_name": "repository", "subcategory": "subcategory",
              "stars": "stars", "stars_gained": "stars gained (30 days)"}  # fmt: skip
    present = moving[0].keys() if moving else []
    mover_columns = [(key, title) for key, title in wanted.items() if key in present]
    subcategories = ", ".join(category.get("subcategories") or []) or "none"
    body = f"""<h1>{esc(name)}</h1>
<p class="intro">{esc(category.get('definition'))}</p>
<p class="muted">Layer: {esc(category.get('layer'))} · subcategories: {esc(subcategories)}</p>
{chart_block(facts, name="stack", fixed={"category": name}, defaults={"level": "subcategory"})}
<h2>Top repositories</h2>
{table(top, [("full_name", "repository"), ("stars", "stars"), ("subcategory", "subcategory"),
             ("language", "language")], link="full_name",
       empty="No repositories in this category yet.")}
<h2>Movers</h2>
<p class="muted">Stars gained recently, from our own crawl observations.</p>
{table(moving, mover_columns, link="full_name", empty="No movers yet: one crawl is not a trend.")}
"""  # fmt: skip
    return layout(name, body, facts, active=f"/category/{name}", scripts=True)


def explorer_page(facts: PageFacts) -> str:
    layer_options = "".join(f"<option>{esc(v)}</option>" for v in facts.layers)
    category_options = "".join(f"<option>{esc(c['name'])}</option>" for c in facts.categories)
    body = f"""<h1>Explore repositories</h1>
<form class="controls explorer" id="explorer">
<label>Search <input type="search" name="q" placeholder="name or description"></label>
<label>Layer <select name="layer"><option value="">any</option>{layer_options}</select></label>
<label>Category <select name="category"><option value="">any</option>{category_options}
</select></label>
<label>Language <input type="text" name="language" size="10"></label>
<label>Min. stars <input type="number" name="min_stars" min="0" step="100"></label>
<label>Sort <select name="sort"><option value="-stars">most stars</option>
<option value="stars">fewest stars</option><option value="-created">newest</option>
<option value="created">oldest</option><option value="name">name</option></select></label>
</form>
<div class="explore">
<aside id="facets" class="facets" aria-label="Facets"></aside>
<section><p id="result-count" class="muted">Loading…</p><div id="results" class="scroll"></div>
<p class="pager"><button id="prev" type="button">Previous</button>
<button id="next" type="button">Next</button></p></section>
</div>"""  # fmt: skip
    return layout("Explore", body, facts, active="/explore", scripts=True)


def repository_page(
    con: duckdb.DuckDBPyConnection, repo: Mapping[str, Any], facts: PageFacts
) -> str:
    history = label_history(con, int(repo["id"]))
    label = (
        f"{esc(repo.get('layer'))} / {esc(repo.get('category'))}"
        + (f" / {esc(repo.get('subcategory'))}" if repo.get("subcategory") else "")
        if repo.get("category")
        else "not labelled yet"
    )
    confidence = repo.get("confidence")
    facts_rows = [
        ("Label", label),
        ("Labelled by", esc(repo.get("method") or "—")
         + (f" (confidence {confidence:.2f})" if isinstance(confidence, float) else "")),
        ("Why", esc(repo.get("rationale") or "no rationale recorded")),
        ("Stars", f"{repo.get('stars') or 0:,}"),
        ("Language", esc(repo.get("language") or "—")),
        ("Created", esc(str(repo.get("created_at") or "—")[:10])),
        ("Status", esc(repo.get("status"))),
        ("On GitHub", f"<a href='https://github.com/{esc(repo['full_name'])}' rel='noreferrer'>"
                      f"github.com/{esc(repo['full_name'])}</a>"),
    ]  # fmt: skip
    details = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts_rows)
    body = f"""<h1>{esc(repo['full_name'])}</h1>
<p class="intro">{esc(repo.get('description') or '')}</p>
<dl class="facts">{details}</dl>
<h2>Stars over time</h2>
{chart_block(facts, name="stars", fixed={"repo": str(repo["full_name"])}, controls=False)}
<h2>Label history</h2>
{table(history, [("created_at", "time"), ("method", "method"), ("category", "category"),
                 ("subcategory", "subcategory"), ("confidence", "confidence"),
                 ("rationale", "rationale"), ("note", "note")], empty="No labels yet.")}
"""  # fmt: skip
    return layout(str(repo["full_name"]), body, facts, active="/explore", scripts=True)


def _methodology_value(value: object) -> str:
    if isinstance(value, Mapping):
        items = "".join(
            f"<dt>{esc(k)}</dt><dd>{_methodology_value(v)}</dd>" for k, v in value.items()
        )
        return f"<dl>{items}</dl>"
    if isinstance(value, list | tuple):
        return "<ul>" + "".join(f"<li>{_methodology_value(v)}</li>" for v in value) + "</ul>"
    return esc(value)


def methodology_page(facts: PageFacts, methodology: Mapping[str, Any] | None) -> str:
    recorded = (
        _methodology_value(methodology)
        if methodology
        else "<p class='muted'>No release has been published yet: the figures on these pages "
        "come from the live tables and have no frozen methodology record.</p>"
    )
    threshold = facts.context.threshold
    body = f"""<h1>Methodology</h1>
<h2>Collection</h2>
<p>A crawler asks GitHub's search API for repositories with at least {threshold:,} stars that
match AI-related queries, splitting each query by creation date until every slice holds at most
1,000 results (GitHub's cap), and deduplicating by GitHub's numeric id so renames are followed.
Every crawl stores each repository's stars; a repository that drops below the threshold or
vanishes is marked, never deleted.</p>
<h2>Classification</h2>
<p>Each repository gets one layer (application, model, infrastructure) and a category from the
taxonomy (version {esc(facts.taxonomy.get('version'))}): a model trained on labelled examples
decides first, an LLM is asked where the model is unsure, and human labels win over both. Every
label keeps its method, confidence, model and prompt versions and rationale.</p>
<h2>Counting</h2>
<p>Charts count repositories by the month they were created (the book's method) or by the month
they first reached {threshold:,} stars, where that month is known. Lines stop at the date of the
newest data instead of running flat to today.</p>
<h2>Estimated counts</h2>
{_estimate_section(facts.context)}
<h2>Measured accuracy and count error</h2>
<p>The release record below holds the classifier's accuracy and the count error as measured when
the release was published, with how they were measured.</p>
<h2>Release record</h2>
{_citation(facts)}
<div class="record">{recorded}</div>
<h2>Known limits</h2>
<ul>
<li>Only repositories that reached {threshold:,} stars are counted: the curves show what became
popular, not everything that was made.</li>
<li>A repository's creation month is not when it became relevant; the threshold basis answers
that, but its month is unknown for repositories without star history.</li>
<li>Machine labels have errors; counts per category inherit them (see the count error).</li>
<li>GitHub search misses repositories that no query matches.</li>
</ul>"""
    return layout("Methodology", body, facts, active="/methodology", scripts=False)


def _estimate_section(context: ChartContext) -> str:
    served = context.estimates
    confirmed = context.confirmed_text()
    tally = f"<p>{esc(confirmed)} (release {esc(context.release_label)}).</p>" if confirmed else ""
    if served is None:
        return (f"<p>No estimated counts in release {esc(context.release_label)} (they are "
                "computed after each classification run): the charts show the labelled counts "
                "only.</p>" + tally)  # fmt: skip
    return f"""<p>Counting labels inherits the classifier's confusions: a category it often
mistakes for another is counted too low. Beside each category's labelled count, the cumulative
chart draws an estimate of the true count corrected for the confusion measured out of sample
(method <code>{esc(served.method)}</code>, model version <code>{esc(served.model_version)}</code>,
computed {esc(served.computed_at.strftime('%Y-%m-%d %H:%M'))}), its {interval_text(served)} a
shaded band. Human-confirmed labels count as certain. Both counts are in the API:
<code>/v1/counts/monthly?estimate=true</code> and <code>/v1/counts/estimated</code>.</p>
{tally}"""


def _citation(facts: PageFacts) -> str:
    context = facts.context
    if context.release is None:
        return "<p class='muted'>Cite a release, not the live figures, once one is published.</p>"
    day = context.data_date.isoformat() if context.data_date else "unknown"
    url = f"/v1/releases/{context.release}"
    return (
        f"<p>Cite as: <q>{SITE}, release {esc(context.release)} (data to {esc(day)})</q>, "
        f"<a href='{esc(url)}'>{esc(url)}</a>; every chart takes <code>?release=</code>.</p>"
    )


def not_found_page(facts: PageFacts, message: str) -> str:
    body = f"<h1>Not found</h1><p>{esc(message)}</p><p><a href='/explore'>Explore</a></p>"
    return layout("Not found", body, facts, active="", scripts=False)
