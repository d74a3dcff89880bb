"""API latency while the scheduler's jobs write, beside the same API idle.

    python -m bench.service [--repos 3000] [--latency 0.01] [--cycles 1]

Runs `stackatlas serve` (the API on 127.0.0.1 and the scheduler: one process, one DuckDB file)
against GitHub replayed by another process; triggers discovery cycles (crawl → classify →
release) with POST /v1/runs while a client in this process keeps querying the API, then
queries the idle API as the baseline. Prints requests, p50 and p99 latency and errors per
phase, and each phase's p50/p99 over idle's. Figures vary with the machine's load: compare
within one run.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from stackatlas import remote
from stackatlas.settings import Settings
from standins.sample import write_sample

PROJECT_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"
PATHS = ("/v1/repos?limit=20", "/v1/counts/monthly", "/v1/summary", "/v1/runs?limit=5",
         "/healthz")
CRAWLS = ("discovery", "stars", "readme")


@dataclass(frozen=True)
class Sample:
    at: datetime
    seconds: float
    status: int | None  # None: no answer at all
    path: str

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500


@dataclass
class Probe:
    """A client that queries the API in a loop, from its own thread, until stopped."""

    base_url: str
    paths: Sequence[str] = PATHS
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Probe:
        self._thread = threading.Thread(target=self._loop, name="probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        return self.samples

    def _loop(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30.0) as client:
            for path in itertools.cycle(self.paths):
                if self._stop.is_set():
                    return
                self.samples.append(self._one(client, path))

    @staticmethod
    def _one(client: httpx.Client, path: str) -> Sample:
        at = now_utc()
        started = time.perf_counter()
        try:
            status: int | None = client.get(path).status_code
        except httpx.HTTPError:
            status = None
        return Sample(at, time.perf_counter() - started, status, path)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def phase_of(sample: Sample, runs: Sequence[dict[str, Any]]) -> str:
    """crawl, classify or release when a run of that step was writing, else idle."""
    for run in runs:
        if run["started_at"] is None:
            continue
        start = datetime.fromisoformat(run["started_at"])
        end = datetime.fromisoformat(run["finished_at"]) if run["finished_at"] else datetime.max
        if start <= sample.at <= end:
            return "crawl" if run["job"] in CRAWLS else str(run["job"])
    return "idle"


def by_phase(
    samples: Sequence[Sample], runs: Sequence[dict[str, Any]]
) -> dict[str, list[Sample]]:
    phases: dict[str, list[Sample]] = {}
    for sample in samples:
        phases.setdefault(phase_of(sample, runs), []).append(sample)
    return phases


def percentile(values: Sequence[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


@dataclass(frozen=True)
class Figures:
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Figures:
        seconds = [s.seconds for s in samples]
        return cls(len(samples), sum(s.failed for s in samples),
                   percentile(seconds, 50) * 1000, percentile(seconds, 99) * 1000)

    def line(self, name: str, idle: Figures | None = None) -> str:
        ratio = ""
        if idle is not None and idle.p50_ms > 0:
            ratio = (f"   ×{self.p50_ms / idle.p50_ms:.2f} p50, "
                     f"×{self.p99_ms / idle.p99_ms:.2f} p99 vs idle")
        return (f"{name:<9} {self.requests:>6} requests  p50 {self.p50_ms:7.1f} ms  "
                f"p99 {self.p99_ms:7.1f} ms  errors {self.errors}{ratio}")


class ServeProcess:
    """`stackatlas serve` (API and scheduler, one process) as a child on a free port."""

    def __init__(self, folder: Path, api_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = folder / "service.duckdb"
        self.env = {
            **{k: v for k, v in os.environ.items()
               if not k.startswith("STACKATLAS_") and k != "GITHUB_TOKEN"},
            "PYTHONPATH": str(PROJECT_ROOT), "GITHUB_TOKEN": "bench-token",
            "STACKATLAS_API_URL": api_url, "STACKATLAS_DB": str(self.db),
            "STACKATLAS_DATA_DIR": str(folder / "data"), "STACKATLAS_PORT": str(self.port),
            "STACKATLAS_API_KEY": API_KEY, "STACKATLAS_FETCH_README": "false",
            "STACKATLAS_CRAWL_ALL_500": "true", "STACKATLAS_MAX_RETRIES": "8",
            "STACKATLAS_LOG_LEVEL": "WARNING", **env,
        }
        self.log = folder / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServeProcess:
        with self.log.open("wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stackatlas", "serve"], env=self.env, cwd=PROJECT_ROOT,
                stdout=log_file, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while remote.running_server(self.settings) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> int | None:
        """SIGTERM, as a service manager stops it; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    @property
    def settings(self) -> Settings:
        return Settings(port=self.port, api_key=SecretStr(API_KEY))

    def cycle(self, job: str = "discovery", timeout: float = 900) -> list[dict[str, Any]]:
        """Trigger ``job`` through the server and wait for it and its follow-ups."""
        run = remote.trigger(self.url, self.settings, job)
        return remote.wait_for_chain(self.url, run["id"], poll=0.5, timeout=timeout)

    def runs(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/v1/runs", params={"limit": 1000}, timeout=30).json()["runs"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def probing(url: str) -> Iterator[Probe]:
    probe = Probe(url).start()
    try:
        yield probe
    finally:
        probe.stop()


@contextmanager
def replay_process(folder: Path, repos: int, latency: float) -> Iterator[str]:
    """The replay server in its own process, so that it takes no time from the measurement."""
    snapshot = write_sample(folder / "snapshot.tsv", n=repos, seed=17)
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "stackatlas", "replay", "--snapshot", str(snapshot),
         "--port", str(port), "--latency", str(latency), "--search-window", "1"],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/rate_limit", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        child.terminate()
        child.wait(30)


def measure(repos: int, latency: float, cycles: int, idle_seconds: float) -> dict[str, Figures]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with replay_process(folder, repos, latency) as api_url, \
                ServeProcess(folder, api_url) as server:
            server.cycle("classify")  # trains the model once, outside the measurement
            with probing(server.url) as probe:
                for _ in range(cycles):
                    server.cycle("discovery")
            with probing(server.url) as idle:
                time.sleep(idle_seconds)
            runs = server.runs()
    phases = by_phase(probe.samples, runs)
    phases["idle"] = idle.samples + phases.get("idle", [])
    return {name: Figures.of(samples) for name, samples in phases.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.01,
                        help="seconds the replay adds to every GitHub answer")
    parser.add_argument("--cycles", type=int, default=1)
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    figures = measure(args.repos, args.latency, args.cycles, args.idle_seconds)
    idle = figures["idle"]
    print(f"API latency, {args.repos} repositories, {args.cycles} discovery cycle(s); "
          f"paths: {', '.join(PATHS)}")
    print(idle.line("idle"))
    for name in ("crawl", "classify", "release"):
        if name in figures:
            print(figures[name].line(name, idle))
    return 1 if any(f.errors for f in figures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
