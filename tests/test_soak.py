"""Soak: three scheduled cycles against a misbehaving GitHub while a client keeps querying.

`stackatlas serve` runs as its own process (API and scheduler); the replay server answers with
5xx errors, secondary rate limits and jittered latency, and its data changes between cycles
(stars move, repositories appear and vanish). Afterwards the warehouse must equal the one that
the same three cycles wrote without faults and without readers, the client must have seen no
error, and every run must have succeeded. The figures are printed.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from bench.service import PATHS, Figures, Probe, ServeProcess, by_phase
from stackatlas.scheduler import JobRunner
from stackatlas.settings import Settings
from standins.github import FaultConfig, RateLimitConfig, ReplayServer, Snapshot
from standins.sample import generate_sample
from tests.service_harness import snapshot_of
from warehouse.db import connect

FAST_LIMITS = RateLimitConfig(search_limit=30, search_window=1.0, core_limit=5000, core_window=60)
FAULTS = FaultConfig(seed=3, error_rate=0.1, secondary_limit_rate=0.05, retry_after=1,
                     latency=0.005, latency_jitter=0.02)
CYCLES = ("discovery", "stars", "discovery")


def populations() -> list[Snapshot]:
    """What GitHub holds at each cycle: 500 repositories, then 80 more and stars moved, then
    ten gone."""
    everyone = generate_sample(n=580, seed=21)
    first = everyone[:500]
    grown = [dataclasses.replace(repo, stars=repo.stars + 7 * (i % 5))
             for i, repo in enumerate(everyone)]
    return [Snapshot(first), Snapshot(grown), Snapshot(grown[10:])]


def uninterrupted(folder: Path, trained: Path) -> dict[str, object]:
    """The same cycles, run one after another in this process, without faults or readers."""
    shutil.copytree(trained / "models", folder / "data" / "models")
    snapshots = populations()
    with ReplayServer(snapshots[0], rate_limits=FAST_LIMITS) as replay:
        settings = Settings(
            data_dir=folder / "data", db=folder / "whole.duckdb", api_url=replay.url,
            github_token=SecretStr("soak-token"), fetch_readme=False, crawl_all_500=True,
        )
        con = connect(settings.db_path)
        try:
            runner = JobRunner(con, settings)
            for job, snapshot in zip(CYCLES, snapshots, strict=True):
                replay.replace_snapshot(snapshot)
                assert all(run.status == "succeeded" for run in runner.run_now(job))
        finally:
            con.close()
    return snapshot_of(folder / "whole.duckdb")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_three_cycles_with_faults_while_a_client_queries(
    tmp_path: Path, trained_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = uninterrupted(tmp_path / "whole", trained_data_dir)
    folder = tmp_path / "soak"
    shutil.copytree(trained_data_dir / "models", folder / "data" / "models")
    snapshots = populations()
    with ReplayServer(snapshots[0], rate_limits=FAST_LIMITS, faults=FAULTS) as replay:
        server = ServeProcess(folder, replay.url)
        with server:
            probe = Probe(server.url).start()
            try:
                chains = []
                for job, snapshot in zip(CYCLES, snapshots, strict=True):
                    replay.replace_snapshot(snapshot)
                    chains.append(server.cycle(job))
            finally:
                samples = probe.stop()
            runs = server.runs()
            faults = replay.stats
        assert server.process is not None and server.process.returncode == 0

    assert [[run["status"] for run in chain] for chain in chains] == [["succeeded"] * 3] * 3
    phases = by_phase(samples, runs)
    figures = {name: Figures.of(group) for name, group in phases.items()}
    got = snapshot_of(server.db)
    compared = {
        "repositories": len(got["repositories"]), "labels": len(got["labels"]),
        "observations": sum(n for _, n, _ in got["observations"]),
        "crawl runs": len(got["crawl_runs"]), "releases": len(got["releases"]),
        "released labels": sum(n for _, n in got["released_labels"]),
    }
    with capsys.disabled():
        print(f"\nsoak: {len(CYCLES)} cycles ({', '.join(CYCLES)}), {len(runs)} job runs; "
              f"replay faults: {dict(faults.faults)}; client paths: {', '.join(PATHS)}")
        idle = figures.get("idle")
        for name, figure in sorted(figures.items()):
            print("  " + figure.line(name, None if name == "idle" else idle))
        print(f"  rows compared with the uninterrupted run: {compared}")
    assert sum(f.errors for f in figures.values()) == 0
    assert figures["crawl"].requests > 0
    assert sum(faults.faults.values()) > 0  # the faults really happened
    for part, rows in expected.items():
        assert got[part] == rows, part
    assert len(got["repositories"]) == 580
