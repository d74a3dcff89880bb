"""The scheduled service: crawl, classify and release on a timetable, inside `stackatlas serve`.

Jobs (cron expressions in the settings, UTC):

- ``discovery`` (daily): a crawl of the query set (or every repository above the threshold),
  with READMEs of new and pushed repositories;
- ``stars`` (every 6 hours): the same searches without READMEs, recording every star count;
- ``readme`` (weekly): every README asked for again with its ETag (a 304 costs nothing);
- ``classify``: labels for new and changed repositories; follows every crawl;
- ``release``: aggregation and a release; follows every classification.

How the server, its jobs and the CLI share the one DuckDB file
--------------------------------------------------------------
DuckDB lets one process open a file for writing, and no other process may then even read it.
So the server process is the writer and everything that writes while it runs happens inside it:

- The server opens the database once. API requests each work on their own cursor; each job runs
  in a scheduler worker thread on its own cursor. Within one process DuckDB is MVCC: a reader
  sees the last committed state and never waits for a writer.
- Jobs commit in small steps (one search page, one README, one batch of labels), so a kill loses
  at most the step in flight and a crawl's progress is visible to the API page by page.
- Writing jobs run one at a time: ``JobRunner`` holds one process-wide writer lock around each
  job, whoever started it (cron, ``POST /v1/runs``, ``stackatlas run-now``). A job asked for
  while another writes waits its turn; the same job asked for while it is queued or running is
  refused (409). APScheduler adds ``max_instances=1`` and coalescing for missed cron times.
- Another process cannot open the file while the server runs: ``stackatlas run-now`` asks the
  server over HTTP, and any other command that opens the database gets one line naming the
  server (see ``stackatlas.main``).

Crash safety: every run is a ``job_runs`` row (warehouse/jobs.py). When a writer opens the
database, rows a dead process left queued or running are marked failed ("interrupted"); the
next crawl resumes the interrupted crawl run (``run_crawl(resume=True)``), the next
classification labels what is still unlabelled, and the next release is built afresh. A stop
(SIGTERM) sets ``JobRunner.stop``: the crawl saves the page in flight, marks its run failed and
stops; the server waits ``stop_timeout`` seconds for that.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import duckdb
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from stackatlas import metrics
from stackatlas.errors import ConflictError, Interrupted, StackatlasError
from stackatlas.settings import Settings
from warehouse import jobs

log = logging.getLogger(__name__)

JOB_NAMES = jobs.JOB_NAMES
# What runs after a job succeeds, in the same turn of the writer lock.
FOLLOW_UPS: Mapping[str, tuple[str, ...]] = {
    "discovery": ("classify", "release"),
    "stars": ("classify", "release"),
    "readme": ("classify", "release"),
    "classify": ("release",),
    "release": (),
}
SCHEDULED: Mapping[str, str] = {
    "discovery": "discovery_cron", "stars": "stars_cron", "readme": "readme_cron",
}
STOPPED = "stopped: the service shut down; the next run resumes the work"

Step = Callable[[duckdb.DuckDBPyConnection, Settings, threading.Event], dict[str, Any]]

# One writer at a time in this process, whoever asks (scheduler, API, in-process run-now).
WRITER_LOCK = threading.Lock()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ------------------------------------------------------------------------------ the steps


def _crawl(
    con: duckdb.DuckDBPyConnection, settings: Settings, stop: threading.Event, *, details: bool
) -> dict[str, Any]:
    """A crawl that resumes an interrupted one; ``details``: READMEs and star history too, as
    the settings ask."""
    from collector.crawl import run_crawl

    result = run_crawl(
        con, settings, all_500=settings.crawl_all_500, resume=True, progress=False, stop=stop,
        readme=details and settings.fetch_readme,
        star_history=details and settings.star_history,
    )
    counts = {key: value for key, value in asdict(result).items()
              if isinstance(value, int | bool)}
    return {**counts, "requests": sum(result.requests.values())}


def discovery_step(
    con: duckdb.DuckDBPyConnection, settings: Settings, stop: threading.Event
) -> dict[str, Any]:
    """The daily crawl: new repositories and READMEs of new or pushed ones."""
    return _crawl(con, settings, stop, details=True)


def stars_step(
    con: duckdb.DuckDBPyConnection, settings: Settings, stop: threading.Event
) -> dict[str, Any]:
    """The cheap pass: the same searches, no READMEs; every repository gets an observation."""
    return _crawl(con, settings, stop, details=False)


def readme_step(
    con: duckdb.DuckDBPyConnection, settings: Settings, stop: threading.Event
) -> dict[str, Any]:
    from collector.crawl import revalidate_readmes

    cutoff = now_utc() - timedelta(days=settings.readme_max_age_days)
    return revalidate_readmes(con, settings, checked_before=cutoff, stop=stop)


def classify_step(
    con: duckdb.DuckDBPyConnection, settings: Settings, stop: threading.Event
) -> dict[str, Any]:
    from classifier.service import classify_repositories, refresh_estimates

    result = classify_repositories(con, settings)
    estimates = refresh_estimates(con, settings)
    return {"candidates": result.candidates, "labelled": result.labelled,
            "llm_requests": result.llm_requests, **result.by_method,
            "estimate_method": estimates.method if estimates else None}


def release_step(
    con: duckdb.DuckDBPyConnection, settings: Settings, stop: threading.Event
) -> dict[str, Any]:
    """Aggregation and a release after classification (``stackatlas.pipeline.release_step``:
    the analytics refresh and the release each commit in one transaction)."""
    from stackatlas import pipeline

    release = pipeline.release_step(con, settings)
    return {"release": release.id, "data_date": release.data_date}


STEPS: Mapping[str, Step] = {
    "discovery": discovery_step,
    "stars": stars_step,
    "readme": readme_step,
    "classify": classify_step,
    "release": release_step,
}


class UnknownJobError(StackatlasError):
    exit_code = 2
    http_status = 422


def check_job(job: str) -> str:
    if job not in JOB_NAMES:
        raise UnknownJobError(f"unknown job {job!r}", f"choose one of: {', '.join(JOB_NAMES)}")
    return job


# ------------------------------------------------------------------------------ running


class JobRunner:
    """Runs jobs on one connection, one at a time, each recorded in ``job_runs``.

    ``queue`` records a run (refusing a job already queued or running); ``execute`` waits for
    the writer lock, runs the job and its follow-ups on a cursor of its own, and records the
    outcome. ``stop`` ends a crawl at its next checkpoint and keeps queued runs from starting.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: Settings,
        *,
        steps: Mapping[str, Step] = STEPS,
        writer: threading.Lock = WRITER_LOCK,
    ) -> None:
        self.con = con
        self.settings = settings
        self.steps = steps
        self.writer = writer
        self.stop = threading.Event()
        self._state = threading.Lock()
        self._active: dict[str, int] = {}  # job → id of its queued or running run
        self._idle = threading.Condition(self._state)

    def recover(self) -> list[int]:
        """Mark job runs (and crawl runs) a dead process left queued or running as failed;
        returns the ids of the job runs."""
        from warehouse import crawls

        cursor = self.con.cursor()
        try:
            interrupted = jobs.mark_interrupted(cursor, now_utc())
            crawls.mark_interrupted(cursor, now_utc())
        finally:
            cursor.close()
        if interrupted:
            log.warning("runs %s were interrupted by a stop of the process: marked failed",
                        ", ".join(map(str, interrupted)))
        return interrupted

    def active(self) -> dict[str, int]:
        with self._state:
            return dict(self._active)

    def queue(self, job: str, trigger: str) -> jobs.JobRun:
        check_job(job)
        with self._state:
            if job in self._active:
                raise ConflictError(
                    f"job {job} is already queued or running (run {self._active[job]})",
                    f"follow it at GET /v1/runs/{self._active[job]}",
                )
            cursor = self.con.cursor()
            try:
                run = jobs.queue_run(cursor, job, trigger, now_utc(), os.getpid())
            finally:
                cursor.close()
            self._active[job] = run.id
        log.info("job %s queued as run %d (%s)", job, run.id, trigger)
        return run

    def execute(self, run: jobs.JobRun) -> list[jobs.JobRun]:
        """Run a queued run and its follow-ups; returns every run recorded, in order."""
        cursor = self.con.cursor()
        try:
            if not self._acquire_writer():
                jobs.finish_run(cursor, run.id, jobs.FAILED, now_utc(), error=STOPPED)
                return [self._reload(cursor, run.id)]
            try:
                return self._chain(cursor, run)
            finally:
                self.writer.release()
        finally:
            self._forget(run.job)
            cursor.close()

    def run_now(self, job: str, trigger: str = "manual") -> list[jobs.JobRun]:
        """Queue and execute in the calling thread (the CLI without a server)."""
        return self.execute(self.queue(job, trigger))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is queued or running; False when ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    # -------------------------------------------------------------------------- inside

    def _acquire_writer(self) -> bool:
        """Wait for the writer lock; False (and not held) once the runner is stopping."""
        while not self.stop.is_set():
            if self.writer.acquire(timeout=0.2):
                if not self.stop.is_set():
                    return True
                self.writer.release()
        return False

    def _chain(self, cursor: duckdb.DuckDBPyConnection, first: jobs.JobRun) -> list[jobs.JobRun]:
        done = [self._one(cursor, first)]
        if done[-1].status != jobs.SUCCEEDED:
            return done
        for job in FOLLOW_UPS[first.job]:
            if self.stop.is_set():
                break
            follow = jobs.queue_run(
                cursor, job, f"after:{first.job}", now_utc(), os.getpid(), parent_id=first.id
            )
            done.append(self._one(cursor, follow))
            if done[-1].status != jobs.SUCCEEDED:
                break
        return done

    def _one(self, cursor: duckdb.DuckDBPyConnection, run: jobs.JobRun) -> jobs.JobRun:
        jobs.start_run(cursor, run.id, now_utc())
        log.info("job %s started (run %d)", run.job, run.id)
        started = time.monotonic()
        outcome = jobs.FAILED
        try:
            counts = self.steps[run.job](cursor, self.settings, self.stop)
        except Interrupted:
            log.warning("job %s stopped (run %d); the next run resumes it", run.job, run.id)
            jobs.finish_run(cursor, run.id, jobs.FAILED, now_utc(), error=STOPPED)
            outcome = "interrupted"
        except StackatlasError as exc:
            log.error("job %s failed (run %d): %s", run.job, run.id, exc.one_line())
            jobs.finish_run(cursor, run.id, jobs.FAILED, now_utc(), error=exc.one_line())
        except Exception as exc:  # a job must never take the scheduler down with it
            log.exception("job %s failed (run %d)", run.job, run.id)
            jobs.finish_run(cursor, run.id, jobs.FAILED, now_utc(),
                            error=f"{type(exc).__name__}: {exc}")
        else:
            jobs.finish_run(cursor, run.id, jobs.SUCCEEDED, now_utc(), counts=counts)
            log.info("job %s succeeded (run %d): %s", run.job, run.id, counts)
            outcome = jobs.SUCCEEDED
        finally:
            metrics.observe_job(run.job, time.monotonic() - started, outcome)
        return self._reload(cursor, run.id)

    @staticmethod
    def _reload(cursor: duckdb.DuckDBPyConnection, run_id: int) -> jobs.JobRun:
        run = jobs.get_run(cursor, run_id)
        assert run is not None
        return run

    def _forget(self, job: str) -> None:
        with self._state:
            self._active.pop(job, None)
            self._idle.notify_all()


class Service:
    """The APScheduler side of `serve`: cron triggers from the settings, hand triggers too."""

    def __init__(self, runner: JobRunner, settings: Settings) -> None:
        self.runner = runner
        self.settings = settings
        self.scheduler = BackgroundScheduler(timezone=UTC)

    def start(self) -> None:
        for job, setting in SCHEDULED.items():
            trigger = CronTrigger.from_crontab(getattr(self.settings, setting), timezone=UTC)
            self.scheduler.add_job(
                self._scheduled, trigger, args=[job], id=job, name=job, max_instances=1,
                coalesce=True, misfire_grace_time=self.settings.misfire_grace,
            )
        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            log.info("scheduled %s: next run %s", job.id, job.next_run_time)

    def active(self) -> dict[str, int]:
        return self.runner.active()

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()
                if job.id in SCHEDULED}

    def trigger(self, job: str) -> jobs.JobRun:
        """Queue ``job`` now (409 when it is queued or running) and run it in a worker."""
        run = self.runner.queue(job, "manual")
        self.scheduler.add_job(
            self.runner.execute, args=[run], id=f"run-{run.id}", name=f"{job} (run {run.id})",
            misfire_grace_time=None,
        )
        return run

    def shutdown(self) -> None:
        """Ask the running job to checkpoint, wait up to ``stop_timeout``, stop the scheduler."""
        self.runner.stop.set()
        self.scheduler.shutdown(wait=False)
        if not self.runner.wait_idle(self.settings.stop_timeout):
            log.warning("a job did not stop within %.0f s; it is marked interrupted at the "
                        "next start", self.settings.stop_timeout)

    def _scheduled(self, job: str) -> None:
        try:
            run = self.runner.queue(job, "schedule")
        except ConflictError as exc:
            log.info("scheduled %s skipped: %s", job, exc.message)
            return
        self.runner.execute(run)


# ------------------------------------------------------------------------------ the service


def run_service(settings: Settings, *, schedule: bool | None = None) -> None:
    """`stackatlas serve`: the API with the scheduler beside it, in one process.

    The database is opened before the server starts, so a file held by another process or
    not writable is one clear error; runs a dead process left running are marked failed; a
    SIGTERM stops the server, lets the running job checkpoint, and exits 0.
    """
    from api.server import serve
    from warehouse.db import connect

    con = connect(settings.db_path)
    try:
        runner = JobRunner(con, settings)
        runner.recover()
        enabled = settings.schedule if schedule is None else schedule
        service = Service(runner, settings) if enabled else None
        with _sigterm_is_a_clean_exit():
            serve(settings, connection=con, jobs=service)
    finally:
        con.close()


@contextmanager
def _sigterm_is_a_clean_exit() -> Iterator[None]:
    """uvicorn stops on SIGTERM, then raises the signal again for the previous handler; with
    the default handler the process would die with 143 after a clean shutdown."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def noted(signum: int, _frame: FrameType | None) -> None:
        log.info("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, noted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
