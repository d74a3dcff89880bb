"""API bench: stackatlas beside Datasette, same repositories, same load, one run.

For each size (default 20,000 and 1,000,000 synthetic repositories with 12 monthly observations
each, built by ``bench.synthetic``), the bench

1. builds the DuckDB warehouse, refreshes its analytics and publishes a release when none is
   published yet (as a pipeline run does, so the figures are those of the latest release),
2. copies the repositories with their current label into SQLite, indexed on category and on
   stars (a fair peer), and serves it with Datasette (installed from PyPI into its own venv
   under the work folder on first use),
3. serves the warehouse with ``stackatlas serve`` (its own process),
4. loads both from a separate process on 127.0.0.1: ``--clients`` concurrent clients in closed
   loops for ``--seconds`` (at most ``--max-requests``), on the monthly counts and on
   ``repos?category=…&sort=-stars&limit=50`` (the category rotates; both systems get the same
   sequence), and once with one client to show that concurrent requests overlap,
5. prints p50/p99 latency and throughput of both systems and the ratios.

    python bench/api.py                       # 20k and 1M
    python bench/api.py --sizes 20000 --seconds 5
    python bench/api.py --reuse --workdir /tmp/bench  # reuse the warehouses of an earlier run

Datasette runs with its defaults except: the SQLite file opened immutable (``-i``), facet
suggestions off, and a time limit and row cap large enough for the counts query to finish (all
three make Datasette faster, never slower). Both answer uncompressed (``Accept-Encoding:
identity``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench.api")

CATEGORIES = ("models", "app-development", "infrastructure", "applications", "model-development")
DATASETTE_REQUIREMENT = "datasette>=0.65,<0.66"
SQLITE_COLUMNS = (
    "id", "full_name", "description", "stars", "forks", "language", "created_at", "status",
    "layer", "category", "subcategory",
)  # fmt: skip

# Datasette's answer to the monthly counts: the same figures as /v1/counts/monthly?by=category.
COUNTS_SQL = """
SELECT month, layer, category, new_repos,
       sum(new_repos) OVER (PARTITION BY layer, category ORDER BY month) AS cumulative_repos
FROM (
    SELECT substr(created_at, 1, 7) AS month, layer, category, count(*) AS new_repos
    FROM repos
    WHERE status = 'active' AND category IS NOT NULL AND category <> 'other'
    GROUP BY 1, 2, 3
)
ORDER BY month, layer, category
"""


@dataclass
class Result:
    system: str
    endpoint: str
    size: int
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- building ----------------------------------------------------------------------------------


def build_duckdb(path: Path, size: int, *, reuse: bool = False) -> None:
    """Build (or with ``reuse``, reopen) the warehouse, refresh its analytics and, as a pipeline
    run does, publish a release when none is published yet."""
    from bench.synthetic import build_warehouse
    from warehouse.analytics import refresh_analytics
    from warehouse.db import connect
    from warehouse.releases import latest_release, publish_release

    started = time.perf_counter()
    con = connect(path) if reuse and path.exists() else build_warehouse(path, size)
    built = time.perf_counter()
    refresh_analytics(con)
    refreshed = time.perf_counter()
    if latest_release(con) is None:
        publish_release(con, {"source": "bench.synthetic", "repositories": size})
    con.execute("CHECKPOINT")
    con.close()
    log.info(
        "warehouse of %d: %s in %.1f s, analytics refreshed in %.2f s, release in %.1f s",
        size, "reopened" if reuse else "built", built - started, refreshed - built,
        time.perf_counter() - refreshed,
    )  # fmt: skip


def export_sqlite(duck_path: Path, sqlite_path: Path) -> None:
    """The repositories with their current label, as one SQLite table ``repos``."""
    import duckdb

    sqlite_path.unlink(missing_ok=True)
    source = duckdb.connect(str(duck_path), read_only=True)
    target = sqlite3.connect(sqlite_path)
    columns = ", ".join(SQLITE_COLUMNS)
    target.execute(
        "CREATE TABLE repos (id INTEGER PRIMARY KEY, full_name TEXT, description TEXT,"
        " stars INTEGER, forks INTEGER, language TEXT, created_at TEXT, status TEXT,"
        " layer TEXT, category TEXT, subcategory TEXT)"
    )
    selected = columns.replace("created_at", "strftime(created_at, '%Y-%m-%dT%H:%M:%S')")
    result = source.execute(f"SELECT {selected} FROM labelled_repositories ORDER BY id")
    placeholders = ", ".join("?" * len(SQLITE_COLUMNS))
    while batch := result.fetchmany(50_000):
        target.executemany(f"INSERT INTO repos VALUES ({placeholders})", batch)
    target.execute("CREATE INDEX repos_category ON repos (category)")
    target.execute("CREATE INDEX repos_stars ON repos (stars)")
    target.commit()
    target.execute("ANALYZE")
    target.close()
    source.close()


def datasette_command(workdir: Path) -> Path:
    """The datasette executable of the bench's own venv, installed from PyPI when missing."""
    venv = workdir / "datasette-venv"
    executable = venv / "bin" / "datasette"
    if not executable.exists():
        log.info("installing %s into %s", DATASETTE_REQUIREMENT, venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", DATASETTE_REQUIREMENT], check=True
        )
    return executable


# --- serving -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: list[str], health_url: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``command`` until the block ends; yields once ``health_url`` answers 200."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors, text=True
        )
        try:
            _wait_for(process, health_url, errors)
            yield health_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(process: subprocess.Popen[str], health_url: str, errors: IO[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors.seek(0)
            raise RuntimeError(f"{process.args!r} stopped: {errors.read()[-2000:]}")
        try:
            if httpx.get(health_url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{health_url} did not answer in time")


def stackatlas_server(db: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "stackatlas", "serve", "--db", str(db), "--port", str(port)]


def datasette_server(executable: Path, sqlite_path: Path, port: int) -> list[str]:
    return [
        str(executable), "serve", "-i", str(sqlite_path), "-h", "127.0.0.1", "-p", str(port),
        "--setting", "sql_time_limit_ms", "60000",
        "--setting", "max_returned_rows", "100000",
        "--setting", "suggest_facets", "off",
    ]  # fmt: skip


# --- the load (a separate process) --------------------------------------------------------------


def load(urls: list[str], clients: int, seconds: float, max_requests: int) -> dict[str, object]:
    """Closed-loop load: ``clients`` threads cycling through ``urls`` until time or count ends."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds
    budget = [max_requests]

    def client(offset: int) -> None:
        headers = {"Accept-Encoding": "identity"}
        with httpx.Client(timeout=60, headers=headers) as http:
            step = offset
            while time.perf_counter() < stop_at:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                started = time.perf_counter()
                response = http.get(urls[step % len(urls)])
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors[0] += response.status_code != 200
                step += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": latencies, "errors": errors[0], "seconds": time.perf_counter() - started}


def measure(
    system: str, endpoint: str, size: int, urls: list[str], clients: int, args: argparse.Namespace
) -> Result:
    for url in urls:  # warm both systems up (first query plans, caches)
        httpx.get(url, timeout=120, headers={"Accept-Encoding": "identity"}).raise_for_status()
    command = [
        sys.executable, __file__, "load", "--clients", str(clients),
        "--seconds", str(args.seconds), "--max-requests", str(args.max_requests), *urls,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    raw = json.loads(output)
    latencies = sorted(raw["latencies"])
    return Result(
        system=system, endpoint=endpoint, size=size, clients=clients, requests=len(latencies),
        errors=raw["errors"], seconds=raw["seconds"],
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    )  # fmt: skip


# --- one size, both systems -------------------------------------------------------------------


def stackatlas_urls(base: str) -> dict[str, list[str]]:
    return {
        "counts": [f"{base}/v1/counts/monthly?by=category"],
        "repos": [
            f"{base}/v1/repos?category={c}&sort=-stars&limit=50" for c in CATEGORIES
        ],
    }


def datasette_urls(base: str, database: str) -> dict[str, list[str]]:
    """Datasette's URLs; it names a database after its file's stem."""
    return {
        "counts": [f"{base}/{database}.json?_shape=array&sql={quote(COUNTS_SQL)}"],
        "repos": [
            f"{base}/{database}/repos.json?category={c}&status=active&_sort_desc=stars&_size=50"
            for c in CATEGORIES
        ],
    }


def bench_size(size: int, args: argparse.Namespace, datasette: Path) -> list[Result]:
    duck = args.workdir / f"api_{size}.duckdb"
    lite = args.workdir / f"bench_{size}.sqlite"
    reuse = args.reuse and duck.exists()
    build_duckdb(duck, size, reuse=reuse)
    if not (reuse and lite.exists()):
        started = time.perf_counter()
        export_sqlite(duck, lite)
        log.info("SQLite copy for Datasette in %.1f s", time.perf_counter() - started)
    results: list[Result] = []
    env = {**os.environ, "STACKATLAS_LOG_LEVEL": "WARNING"}
    port = free_port()
    with running(stackatlas_server(duck, port), f"http://127.0.0.1:{port}/healthz", env):
        base = f"http://127.0.0.1:{port}"
        for endpoint, urls in stackatlas_urls(base).items():
            results.append(measure("stackatlas", endpoint, size, urls, args.clients, args))
        urls = stackatlas_urls(base)["repos"]
        results.append(measure("stackatlas", "repos", size, urls, 1, args))
    port = free_port()
    health = f"http://127.0.0.1:{port}/-/versions.json"
    with running(datasette_server(datasette, lite, port), health):
        base = f"http://127.0.0.1:{port}"
        for endpoint, urls in datasette_urls(base, lite.stem).items():
            results.append(measure("datasette", endpoint, size, urls, args.clients, args))
        urls = datasette_urls(base, lite.stem)["repos"]
        results.append(measure("datasette", "repos", size, urls, 1, args))
    return results


def report(results: list[Result]) -> None:
    print(f"\n{'system':<11}{'endpoint':<9}{'repos':>10}{'clients':>8}{'requests':>9}"
          f"{'errors':>7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")  # fmt: skip
    for r in results:
        print(f"{r.system:<11}{r.endpoint:<9}{r.size:>10,}{r.clients:>8}{r.requests:>9}"
              f"{r.errors:>7}{r.throughput:>9.1f}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}")  # fmt: skip
    print("\nstackatlas / datasette (targets: throughput ratio ≥ 1; counts p99 < 50 ms at 1M):")
    index = {(r.system, r.endpoint, r.size, r.clients): r for r in results}
    for r in results:
        peer = index.get(("datasette", r.endpoint, r.size, r.clients))
        if r.system != "stackatlas" or peer is None:
            continue
        ratio = r.throughput / peer.throughput if peer.throughput else float("inf")
        print(f"  {r.endpoint:<7} {r.size:>10,} repos, {r.clients} client(s): throughput "
              f"{ratio:.2f}x, p50 {r.p50_ms:.1f} vs {peer.p50_ms:.1f} ms, "
              f"p99 {r.p99_ms:.1f} vs {peer.p99_ms:.1f} ms")  # fmt: skip
    for r in results:
        single = index.get((r.system, r.endpoint, r.size, 1))
        if r.clients > 1 and single is not None and single.throughput:
            print(f"  overlap: {r.system} {r.endpoint} at {r.size:,}: {r.clients} clients give "
                  f"{r.throughput / single.throughput:.2f}x the throughput of one")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        parser = argparse.ArgumentParser()
        parser.add_argument("command")
        parser.add_argument("--clients", type=int, required=True)
        parser.add_argument("--seconds", type=float, required=True)
        parser.add_argument("--max-requests", type=int, required=True)
        parser.add_argument("urls", nargs="+")
        a = parser.parse_args()
        print(json.dumps(load(a.urls, a.clients, a.seconds, a.max_requests)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,1000000", help="repositories per warehouse")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per measure")
    parser.add_argument("--max-requests", type=int, default=5000, help="cap per measure")
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "bench-api")
    parser.add_argument(
        "--reuse", action="store_true",
        help="reuse the warehouses and SQLite copies of an earlier run in --workdir (the "
        "analytics are still refreshed and timed)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args.workdir.mkdir(parents=True, exist_ok=True)
    datasette = datasette_command(args.workdir)
    results: list[Result] = []
    for size in (int(s) for s in args.sizes.split(",")):
        results.extend(bench_size(size, args, datasette))
        report(results)


if __name__ == "__main__":
    main()
