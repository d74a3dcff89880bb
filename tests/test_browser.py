"""The pages in a real browser: Debian's chromium driven by playwright, the app served by uvicorn.

Every page loads with no console error and no request leaving 127.0.0.1, charts draw marks,
changing a toggle changes the chart and the URL, and a 390 px phone has no horizontal overflow.
Screenshots land in test-artifacts/screenshots/ (gitignored). ``make test`` installs chromium
(apt) first and sets STACKATLAS_REQUIRE_CHROMIUM, so a missing browser fails there instead of
skipping.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from bench.synthetic import store_estimates
from stackatlas.settings import Settings
from tests.conftest import PROJECT_ROOT
from tests.population import seed_population
from warehouse.analytics import refresh_analytics
from warehouse.db import connect

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("STACKATLAS_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = bool(os.environ.get("STACKATLAS_REQUIRE_CHROMIUM"))
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
# The design notes' flags for a headless Debian chromium (playwright adds its own profile dir).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
MARKS = ".mark-line path, .mark-area path, .mark-rect path, .mark-symbol path"

PAGES = {
    "stack": "/",
    "stack-crossed-subcategory": "/?basis=crossed&level=subcategory&yscale=log",
    "share": "/share",
    "new": "/new",
    "category": "/category/app-development",
    "explore": "/explore",
    "repository": "/repository/{repo}",
    "methodology": "/methodology",
}


def _need_browser() -> Any:
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        if REQUIRE:
            pytest.fail(f"STACKATLAS_REQUIRE_CHROMIUM is set but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed (make test installs it)")
    return playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    base: str
    repo: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _need_browser()
    db = tmp_path_factory.mktemp("browser") / "warehouse.duckdb"
    con = connect(db)
    seed_population(con, 300)
    refresh_analytics(con)
    store_estimates(con)  # the stack chart draws its estimate band
    repo = con.execute(
        "SELECT full_name FROM labelled_repositories WHERE category = 'models' "
        "ORDER BY stars DESC LIMIT 1"
    ).fetchall()[0][0]
    con.close()
    port = _free_port()
    config = uvicorn.Config(
        create_app(Settings(db=db)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield Site(base=f"http://127.0.0.1:{port}", repo=repo)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    playwright = _need_browser()
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@dataclass
class Visit:
    page: Any
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(browser: Any, url: str, viewport: dict[str, int]) -> Visit:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    visit = Visit(page)
    page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.console_errors.append(str(e)))
    page.on("request", lambda r: visit.requests.append(r.url))
    page.goto(url, wait_until="load")
    return visit


def wait_drawn(page: Any) -> None:
    page.wait_for_function(
        "() => { const blocks = [...document.querySelectorAll('[data-chart]')];"
        " return blocks.every(b => b.dataset.state === 'drawn' || b.dataset.state === 'error')"
        " && (document.getElementById('explorer') === null"
        "      || document.body.dataset.state === 'drawn'); }",
        timeout=20_000,
    )


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def local_only(visit: Visit, base: str) -> None:
    outside = [u for u in visit.requests if not u.startswith((base, "data:", "blob:"))]
    assert outside == [], f"requests left 127.0.0.1: {outside}"


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_page_loads_cleanly_offline(browser: Any, site: Site, name: str, device: str) -> None:
    viewport = LAPTOP if device == "laptop" else PHONE
    visit = open_page(browser, site.base + PAGES[name].format(repo=site.repo), viewport)
    page = visit.page
    wait_drawn(page)
    shot(page, f"{name}-{device}")
    assert visit.console_errors == []
    local_only(visit, site.base)
    states = page.eval_on_selector_all("[data-chart]", "bs => bs.map(b => b.dataset.state)")
    assert all(state == "drawn" for state in states), states
    if states:
        assert page.locator(f"#chart {MARKS.replace(', ', ', #chart ')}").count() > 0
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name} overflows the {viewport['width']} px viewport by {overflow} px"
    if states:  # the chart (title included) fits its box: nothing is clipped
        chart_width = page.evaluate("() => document.querySelector('#chart svg').getBBox().width")
        box_width = page.evaluate("() => document.querySelector('#chart').clientWidth")
        assert chart_width <= box_width + 1
    page.context.close()


def legend_labels(page: Any) -> list[str]:
    return page.eval_on_selector_all(".role-legend-label text", "ts => ts.map(t => t.textContent)")


def test_toggles_change_the_chart_and_the_url(browser: Any, site: Site) -> None:
    visit = open_page(browser, site.base + "/", LAPTOP)
    page = visit.page
    wait_drawn(page)
    categories = legend_labels(page)
    assert "app-development" in categories
    page.check("input[name=level][value=layer]")
    page.wait_for_function("() => location.search.includes('level=layer')")
    wait_drawn(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.role-legend-label text')]"
        ".some(t => t.textContent === 'application')"
    )
    layers = legend_labels(page)
    assert set(layers) <= {"application", "model", "infrastructure", "none (tutorials, lists)"}
    assert layers
    page.check("input[name=yscale][value=log]")
    page.wait_for_function("() => location.search.includes('yscale=log')")
    wait_drawn(page)
    shot(page, "stack-layer-log-laptop")
    # the state survives a reload: the URL is the state
    page.reload()
    wait_drawn(page)
    assert page.is_checked("input[name=level][value=layer]")
    assert page.is_checked("input[name=yscale][value=log]")
    assert visit.console_errors == []
    page.context.close()


def test_the_estimate_band_is_drawn_and_can_be_hidden(browser: Any, site: Site) -> None:
    visit = open_page(browser, site.base + "/", LAPTOP)
    page = visit.page
    wait_drawn(page)
    assert page.locator("#chart .mark-area path").count() > 0  # the shaded interval
    legend = legend_labels(page)
    assert "labelled" in legend and "estimated, 90% interval shaded" in legend
    assert "app-development" in legend  # the categories keep their legend beside it
    assert "labels human-confirmed" in page.text_content("#human-confirmed")
    page.check("input[name=estimate][value=false]")
    page.wait_for_function("() => location.search.includes('estimate=false')")
    page.wait_for_function("() => document.querySelector('#chart .mark-area path') === null")
    wait_drawn(page)
    assert "labelled" not in legend_labels(page)
    assert visit.console_errors == []
    page.context.close()


def test_date_range_and_filters_change_the_data(browser: Any, site: Site) -> None:
    visit = open_page(browser, site.base + "/new?from=2023-01&to=2024-12&layer=model", LAPTOP)
    page = visit.page
    wait_drawn(page)
    assert page.input_value("input[name=from]") == "2023-01"
    assert page.is_checked("input[name=layer][value=model]")
    assert set(legend_labels(page)) <= {"models", "model-development"}
    csv_link = page.get_attribute("a[data-format=csv]", "href")
    assert "from=2023-01" in csv_link and "layer=model" in csv_link
    assert visit.console_errors == []
    page.context.close()


def test_clicking_a_legend_entry_isolates_it(browser: Any, site: Site) -> None:
    visit = open_page(browser, site.base + "/", LAPTOP)
    page = visit.page
    wait_drawn(page)

    def opacities() -> list[str]:
        return page.eval_on_selector_all(
            ".mark-line path", "ps => ps.map(p => p.getAttribute('opacity') || '1')"
        )

    assert set(opacities()) == {"1"}
    page.locator(".role-legend-symbol path").first.click(force=True)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.mark-line path')]"
        ".some(p => p.getAttribute('opacity') && Number(p.getAttribute('opacity')) < 0.5)"
    )
    faded = [o for o in opacities() if float(o) < 0.5]
    assert 0 < len(faded) < len(opacities())
    page.context.close()


def test_explorer_searches_and_links_to_repository_pages(browser: Any, site: Site) -> None:
    visit = open_page(browser, site.base + "/explore", LAPTOP)
    page = visit.page
    wait_drawn(page)
    first_count = page.text_content("#result-count")
    page.select_option("select[name=category]", "models")
    page.wait_for_function("() => location.search.includes('category=models')")
    page.wait_for_function(
        f"() => document.getElementById('result-count').textContent !== {first_count!r}"
    )
    rows = page.locator("#results tbody tr")
    assert rows.count() > 0
    assert set(page.eval_on_selector_all(
        "#results tbody tr td:nth-child(4)", "tds => tds.map(t => t.textContent)"
    )) == {"models"}  # fmt: skip
    shot(page, "explore-filtered-laptop")
    page.locator("#results tbody tr a").first.click()
    page.wait_for_url("**/repository/**")
    wait_drawn(page)
    assert visit.console_errors == []
    local_only(visit, site.base)
    page.context.close()


def test_chart_download_links_name_their_files(browser: Any, site: Site) -> None:
    visit = open_page(browser, site.base + "/share?level=layer", LAPTOP)
    page = visit.page
    wait_drawn(page)
    href = page.get_attribute("a[data-format=png][data-dpi='300']", "href")
    response = page.request.get(site.base + href, timeout=120_000)
    assert response.ok and response.headers["content-type"] == "image/png"
    assert 'filename="stackatlas-share-layer-created-' in response.headers["content-disposition"]
    assert "300dpi.png" in response.headers["content-disposition"]
    embed = page.input_value("#embed-code")
    assert embed.startswith("![") and "/v1/charts/share.svg?" in embed
    page.context.close()
