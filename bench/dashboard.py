"""Dashboard bench: time to the first drawn chart in Debian's chromium, page weight, data per chart.

A synthetic warehouse (``bench/synthetic.py``, default 20,000 repositories) is served by the app
with uvicorn on 127.0.0.1; playwright drives /usr/bin/chromium. Each load is a fresh browser
context (empty cache), timed from navigation start to the moment vega-embed has drawn the chart
(``window.stackatlasFirstDraw``). Two server states are measured:

- cold: the chart render cache is emptied before each load (the server queries and builds the
  spec on every load);
- warm: the spec comes from the render cache.

The warehouse holds estimated counts (``bench.synthetic.store_estimates``), so the default chart
draws the estimate band and dashed lines; ``?estimate=false`` (cold) measures the same chart
without them in the same run.

Baseline, measured in the same run: the same chart as one self-contained HTML document with Vega
and the spec inline (vl-convert's ``vegalite_to_html(bundle=True)``, how the former dashboard
shipped), timed to its first drawn mark. Target: first chart drawn < 1.5 s (median).

    python bench/dashboard.py [--n 20000] [--loads 7]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
import vl_convert
from fastapi.responses import HTMLResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app
from bench.synthetic import build_warehouse, store_estimates
from dashboards.charts import VEGALITE_VERSION, build_chart, static_spec
from dashboards.data import MAX_CHART_ROWS, load_chart
from dashboards.params import ChartParams
from stackatlas.settings import Settings
from warehouse.analytics import refresh_analytics

log = logging.getLogger("bench.dashboard")

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TARGET_SECONDS = 1.5
CHART_QUERIES = (
    ("stack", ""), ("stack", "estimate=false"), ("stack", "level=subcategory"),
    ("stack", "basis=crossed&level=layer"),
    ("share", "level=layer"), ("new", ""), ("new", "level=subcategory"),
)  # fmt: skip
FIRST_MARK = (
    "() => document.querySelector('.mark-line path, .mark-area path, .mark-rect path') !== null"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(db: Path) -> tuple[uvicorn.Server, Any, str]:
    app = create_app(Settings(db=db))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, app, f"http://127.0.0.1:{port}"


def add_baseline_route(app: Any) -> None:
    """/bench-baseline: the chart as one inline HTML document (Vega and the data inside)."""
    data = load_chart(app.state.connection.cursor(), "stack", ChartParams(), 500)
    spec = static_spec(build_chart(data))
    document = vl_convert.vegalite_to_html(spec, vl_version=VEGALITE_VERSION, bundle=True)

    @app.get("/bench-baseline", include_in_schema=False)
    def baseline() -> HTMLResponse:
        return HTMLResponse(document)


def page_weight(page: Any) -> int:
    return int(page.evaluate(
        "() => performance.getEntriesByType('navigation').concat("
        "performance.getEntriesByType('resource')).reduce((s, e) => s + e.encodedBodySize, 0)"
    ))  # fmt: skip


def load_once(browser: Any, url: str, *, ours: bool) -> tuple[float, int]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url, wait_until="commit")
    if ours:
        page.wait_for_function("() => window.stackatlasFirstDraw !== undefined", timeout=60_000)
        drawn = float(page.evaluate("() => window.stackatlasFirstDraw")) / 1000
    else:
        page.wait_for_function(FIRST_MARK, timeout=60_000, polling=10)
        drawn = float(page.evaluate("() => performance.now()")) / 1000
    page.wait_for_load_state("load")
    weight = page_weight(page)
    context.close()
    return drawn, weight


def measure(browser: Any, app: Any, url: str, loads: int, *, ours: bool, cold: bool
            ) -> tuple[list[float], int]:  # fmt: skip
    times, weight = [], 0
    for _ in range(loads):
        if cold:
            app.state.chart_cache = type(app.state.chart_cache)()
        drawn, weight = load_once(browser, url, ours=ours)
        times.append(drawn)
    return times, weight


def chart_payloads(base: str) -> list[tuple[str, int, int, int]]:
    import httpx

    rows = []
    for name, query in CHART_QUERIES:
        body = httpx.get(f"{base}/v1/charts/{name}.json?{query}", timeout=120).content
        spec = json.loads(body)
        count = max((len(v) for v in spec.get("datasets", {}).values()), default=0)
        rows.append((f"{name}?{query}".rstrip("?"), count, len(body), len(gzip.compress(body))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="repositories (default 20,000)")
    parser.add_argument("--loads", type=int, default=7, help="page loads per measurement")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        db = Path(folder) / "warehouse.duckdb"
        started = time.perf_counter()
        con = build_warehouse(db, args.n)
        refresh_analytics(con)
        store_estimates(con)
        con.close()
        print(f"warehouse: {args.n:,} synthetic repositories built in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        server, app, base = serve(db)
        add_baseline_route(app)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            load_once(browser, base + "/", ours=True)  # warm-up: JIT, bundle built once
            cold, weight = measure(browser, app, base + "/", args.loads, ours=True, cold=True)
            warm, _ = measure(browser, app, base + "/", args.loads, ours=True, cold=False)
            plain, _ = measure(browser, app, base + "/?estimate=false", args.loads, ours=True,
                               cold=True)  # fmt: skip
            sub, _ = measure(browser, app, base + "/?level=subcategory", args.loads,
                               ours=True, cold=True)  # fmt: skip
            baseline, base_weight = measure(browser, app, base + "/bench-baseline", args.loads,
                                            ours=False, cold=False)  # fmt: skip
            browser.close()
        payloads = chart_payloads(base)
        server.should_exit = True
    report(args, {"cold": cold, "warm": warm, "plain": plain, "sub": sub}, baseline, weight,
           base_weight, payloads)  # fmt: skip


def report(args: argparse.Namespace, times: dict[str, list[float]], baseline: list[float],
           weight: int, base_weight: int, payloads: list[tuple[str, int, int, int]]) -> None:
    cold = times["cold"]

    def line(label: str, measured: list[float]) -> str:
        median = statistics.median(measured)
        return (f"  {label:<48} median {median:5.2f} s  (min {min(measured):.2f}, max "
                f"{max(measured):.2f})  {median / statistics.median(baseline):4.2f}× baseline")

    print(f"\nfirst chart drawn in chromium, {args.loads} loads each, fresh browser context:")
    print(line("/ (stack by category, estimate band), cache cold", cold))
    print(line("/ (stack by category, estimate band), cache warm", times["warm"]))
    print(line("/?estimate=false (no band), server cache cold", times["plain"]))
    print(line("/?level=subcategory, server cache cold", times["sub"]))
    print(line("baseline: one inline HTML document", baseline))
    verdict = "met" if statistics.median(cold) < TARGET_SECONDS else "NOT met"
    print(f"  target < {TARGET_SECONDS} s (cold median): {verdict}")
    print(f"\npage weight (bytes of all responses): / {weight:,}; baseline {base_weight:,}")
    print(f"\ndata sent per chart (Vega-Lite JSON, rows inline; limit {MAX_CHART_ROWS:,} rows):")
    for name, rows, size, zipped in payloads:
        flag = "" if rows <= MAX_CHART_ROWS else "  OVER THE LIMIT"
        print(f"  {name:<36} {rows:>6,} rows  {size:>9,} bytes  ({zipped:,} gzipped){flag}")


if __name__ == "__main__":
    main()
