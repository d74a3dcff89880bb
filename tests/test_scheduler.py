"""The job runner and the scheduler: one writer at a time, run history, follow-ups, recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from apscheduler.triggers.cron import CronTrigger

from stackatlas import metrics
from stackatlas.errors import ConflictError, Interrupted, StackatlasError
from stackatlas.scheduler import STOPPED, JobRunner, Service, UnknownJobError, now_utc
from stackatlas.settings import Settings
from warehouse import jobs

T0 = datetime(2026, 12, 1, 3, 0)


class Steps:
    """Fake job steps that record who ran when, and can be held at a gate."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.inside = 0
        self.overlaps = 0
        self.gates: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self.failures: dict[str, BaseException] = {}
        self._lock = threading.Lock()

    def step(self, name: str) -> Callable[..., dict[str, Any]]:
        self.entered[name] = threading.Event()

        def run(con: duckdb.DuckDBPyConnection, settings: Settings,
                stop: threading.Event) -> dict[str, Any]:
            with self._lock:
                self.inside += 1
                self.overlaps += self.inside > 1
                self.log.append(("start", name))
            self.entered[name].set()
            try:
                gate = self.gates.get(name)
                if gate is not None:
                    while not gate.wait(0.05):
                        if stop.is_set():
                            raise Interrupted("asked to stop", "")
                if name in self.failures:
                    raise self.failures[name]
                con.execute("SELECT count(*) FROM job_runs").fetchall()  # uses its own cursor
                return {"done": name}
            finally:
                with self._lock:
                    self.inside -= 1
                    self.log.append(("end", name))

        return run

    def mapping(self) -> dict[str, Callable[..., dict[str, Any]]]:
        return {name: self.step(name)
                for name in ("discovery", "stars", "readme", "classify", "release")}


@pytest.fixture
def steps() -> Steps:
    return Steps()


@pytest.fixture
def runner(con: duckdb.DuckDBPyConnection, steps: Steps, tmp_path: Path) -> JobRunner:
    return JobRunner(con, Settings(data_dir=tmp_path), steps=steps.mapping(),
                     writer=threading.Lock())


def statuses(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    rows = con.execute("SELECT job, trigger, status FROM job_runs ORDER BY id").fetchall()
    return [tuple(row) for row in rows]


def test_a_crawl_job_is_followed_by_classification_and_a_release(
    runner: JobRunner, con: duckdb.DuckDBPyConnection
) -> None:
    runs = runner.run_now("discovery")
    assert [(r.job, r.status) for r in runs] == [
        ("discovery", "succeeded"), ("classify", "succeeded"), ("release", "succeeded")]
    assert [r.parent_id for r in runs] == [None, runs[0].id, runs[0].id]
    assert runs[0].counts == {"done": "discovery"}
    assert all(r.started_at and r.finished_at and r.finished_at >= r.started_at for r in runs)
    assert statuses(con)[1] == ("classify", "after:discovery", "succeeded")
    assert runner.active() == {}


def test_a_failed_job_records_its_error_and_stops_the_chain(
    runner: JobRunner, steps: Steps, con: duckdb.DuckDBPyConnection
) -> None:
    steps.failures["classify"] = StackatlasError("model missing", "train it")
    runs = runner.run_now("stars")
    assert [(r.job, r.status) for r in runs] == [("stars", "succeeded"), ("classify", "failed")]
    assert runs[-1].error == "model missing — train it"
    steps.failures["stars"] = RuntimeError("boom")
    (failed,) = runner.run_now("stars")
    assert failed.status == "failed" and failed.error == "RuntimeError: boom"


def test_every_job_run_is_observed_in_the_metrics(runner: JobRunner, steps: Steps) -> None:
    def observed(job: str, outcome: str) -> float:
        return metrics.sample_value(
            "stackatlas_job_duration_seconds_count", {"job": job, "outcome": outcome}
        )

    before = observed("stars", "succeeded"), observed("classify", "failed")
    steps.failures["classify"] = StackatlasError("model missing", "train it")
    runner.run_now("stars")
    assert observed("stars", "succeeded") == before[0] + 1
    assert observed("classify", "failed") == before[1] + 1


def test_the_same_job_twice_is_refused_and_jobs_never_overlap(
    runner: JobRunner, steps: Steps, con: duckdb.DuckDBPyConnection
) -> None:
    steps.gates["discovery"] = threading.Event()
    first = runner.queue("discovery", "manual")
    worker = threading.Thread(target=runner.execute, args=[first])
    worker.start()
    assert steps.entered["discovery"].wait(5)
    with pytest.raises(ConflictError) as refused:
        runner.queue("discovery", "manual")
    assert refused.value.http_status == 409 and f"run {first.id}" in refused.value.message
    # Another job waits for the writer instead of running beside the crawl.
    other = runner.queue("readme", "manual")
    waiting = threading.Thread(target=runner.execute, args=[other])
    waiting.start()
    time.sleep(0.3)
    assert jobs.get_run(con, other.id).status == "queued"  # type: ignore[union-attr]
    steps.gates["discovery"].set()
    worker.join(10)
    waiting.join(10)
    assert steps.overlaps == 0
    assert runner.active() == {}
    assert all(status == "succeeded" for _, _, status in statuses(con))


def test_stop_interrupts_the_running_job_and_keeps_queued_ones_from_starting(
    runner: JobRunner, steps: Steps, con: duckdb.DuckDBPyConnection
) -> None:
    steps.gates["discovery"] = threading.Event()
    first, second = runner.queue("discovery", "manual"), runner.queue("classify", "manual")
    threads = [threading.Thread(target=runner.execute, args=[run]) for run in (first, second)]
    threads[0].start()
    assert steps.entered["discovery"].wait(5)
    threads[1].start()
    runner.stop.set()
    assert runner.wait_idle(5)
    for thread in threads:
        thread.join(5)
    for run in (first, second):
        stored = jobs.get_run(con, run.id)
        assert stored is not None and stored.status == "failed" and stored.error == STOPPED
    assert ("start", "classify") not in steps.log


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(
    runner: JobRunner, con: duckdb.DuckDBPyConnection
) -> None:
    dead = jobs.queue_run(con, "discovery", "schedule", T0, pid=1)
    jobs.start_run(con, dead.id, T0)
    never = jobs.queue_run(con, "classify", "manual", T0, pid=1)
    done = jobs.queue_run(con, "release", "manual", T0, pid=1)
    jobs.finish_run(con, done.id, jobs.SUCCEEDED, T0, counts={"n": 1})
    assert runner.recover() == [dead.id, never.id]
    marked = jobs.get_run(con, dead.id)
    assert marked is not None and marked.status == "failed" and marked.error == jobs.INTERRUPTED
    assert jobs.get_run(con, done.id).status == "succeeded"  # type: ignore[union-attr]
    assert runner.recover() == []


def test_history_filters_and_last_success(con: duckdb.DuckDBPyConnection) -> None:
    for job, status in (("discovery", "succeeded"), ("stars", "failed"), ("stars", "succeeded")):
        run = jobs.queue_run(con, job, "schedule", T0, pid=1)
        jobs.finish_run(con, run.id, status, T0, counts={"job": job})
    assert [r.job for r in jobs.list_runs(con)] == ["stars", "stars", "discovery"]
    assert [r.status for r in jobs.list_runs(con, job="stars")] == ["succeeded", "failed"]
    assert [r.id for r in jobs.list_runs(con, status="failed")] == [2]
    assert jobs.list_runs(con, limit=1, offset=2)[0].job == "discovery"
    last = jobs.last_success(con, "stars")
    assert last is not None and last.id == 3 and last.counts == {"job": "stars"}


def test_unknown_job_is_a_clear_error(runner: JobRunner) -> None:
    with pytest.raises(UnknownJobError, match="unknown job 'crawl'"):
        runner.queue("crawl", "manual")


@pytest.fixture
def service(runner: JobRunner, tmp_path: Path) -> Iterator[Service]:
    settings = Settings(data_dir=tmp_path, stars_cron="*/5 * * * *", misfire_grace=120)
    service = Service(runner, settings)
    service.start()
    yield service
    service.shutdown()


def test_service_schedules_the_crawls_from_the_settings(service: Service) -> None:
    scheduled = {job.id: job for job in service.scheduler.get_jobs()}
    assert set(scheduled) == {"discovery", "stars", "readme"}
    stars = scheduled["stars"]
    assert isinstance(stars.trigger, CronTrigger)
    assert str(stars.trigger.fields[6]) == "*/5"  # the minute field
    assert (stars.max_instances, stars.coalesce, stars.misfire_grace_time) == (1, True, 120)
    assert all(when is not None for when in service.next_runs().values())


def test_service_trigger_runs_in_a_worker_and_refuses_a_second_time(
    service: Service, steps: Steps, con: duckdb.DuckDBPyConnection
) -> None:
    steps.gates["classify"] = threading.Event()
    run = service.trigger("classify")
    assert steps.entered["classify"].wait(5)
    assert service.active() == {"classify": run.id}
    with pytest.raises(ConflictError):
        service.trigger("classify")
    steps.gates["classify"].set()
    assert service.runner.wait_idle(5)
    assert statuses(con) == [("classify", "manual", "succeeded"),
                             ("release", "after:classify", "succeeded")]


def test_a_scheduled_time_while_the_job_runs_is_skipped(
    service: Service, steps: Steps, con: duckdb.DuckDBPyConnection
) -> None:
    steps.gates["stars"] = threading.Event()
    run = service.trigger("stars")
    assert steps.entered["stars"].wait(5)
    service._scheduled("stars")  # what the cron trigger calls
    steps.gates["stars"].set()
    assert service.runner.wait_idle(5)
    assert [r.job for r in jobs.list_runs(con, job="stars")] == ["stars"]
    assert jobs.get_run(con, run.id).status == "succeeded"  # type: ignore[union-attr]


def test_cron_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="not a cron expression"):
        Settings(discovery_cron="every day")


def test_readme_revalidation_asks_with_etags_and_resumes_where_it_stopped(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from pydantic import SecretStr

    from collector.crawl import revalidate_readmes, run_crawl
    from standins.github import RateLimitConfig, ReplayServer, Snapshot
    from standins.sample import generate_sample

    snapshot = Snapshot(generate_sample(n=30, seed=9))
    limits = RateLimitConfig(search_limit=30, search_window=1.0, core_limit=5000, core_window=60)
    with ReplayServer(snapshot, rate_limits=limits) as replay:
        settings = Settings(data_dir=tmp_path, api_url=replay.url,
                            github_token=SecretStr("t"), fetch_readme=True)
        run_crawl(con, settings, all_500=True, progress=False, reset_margin=0.05)
        fetched = replay.stats.requests["core"]
        cutoff = now_utc()  # everything was checked before: all 30 are due
        stop = threading.Event()
        stop.set()
        with pytest.raises(Interrupted):  # stops after the README in flight
            revalidate_readmes(con, settings, checked_before=cutoff, stop=stop)
        rest = revalidate_readmes(con, settings, checked_before=cutoff)
        again = revalidate_readmes(con, settings, checked_before=cutoff)
        stats = replay.stats
    with_etag = con.execute(
        "SELECT count(*) FROM repositories WHERE readme_etag IS NOT NULL").fetchall()[0][0]
    assert fetched >= 30 and with_etag > 20
    assert rest["checked"] == 29 and rest["changed"] == 0
    assert stats.not_modified == with_etag  # every README with an ETag answered 304
    assert again == {"checked": 0, "changed": 0, "requests": 0}
