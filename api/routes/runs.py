"""Job runs: the history of the scheduled service, and a trigger for a run now.

The models live here rather than in ``api/schemas.py`` because only these routes use them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import CursorDep, WriteAccess
from api.errors import WritesDisabledError
from api.formats import CSV_RESPONSE, FormatDep, csv_response
from stackatlas.errors import NotFoundError
from warehouse import jobs
from warehouse.jobs import JobName

router = APIRouter(prefix="/v1/runs", tags=["runs"])

StatusParam = Literal["queued", "running", "succeeded", "failed"]


class JobControl(Protocol):
    """What the API needs of the scheduler that `stackatlas serve` runs beside it
    (``stackatlas.scheduler.Service``); the app starts and stops it with itself."""

    def start(self) -> None: ...

    def shutdown(self) -> None: ...

    def trigger(self, job: str) -> jobs.JobRun: ...

    def active(self) -> dict[str, int]: ...

    def next_runs(self) -> dict[str, datetime | None]: ...


class JobRunOut(BaseModel):
    id: int
    job: str = Field(description="discovery | stars | readme | classify | release")
    trigger: str = Field(description="schedule | manual | after:<job> (a follow-up)")
    parent_id: int | None = Field(None, description="The run a follow-up followed.")
    queued_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str = Field(description="queued | running | succeeded | failed")
    counts: dict[str, Any] = Field(description="What the run did (repositories, labels, ...).")
    error: str | None = None


class JobRunPage(BaseModel):
    runs: list[JobRunOut]
    active: dict[str, int] = Field(description="Job → id of its queued or running run.")
    next_runs: dict[str, datetime | None] = Field(
        description="Scheduled job → its next start (empty when the scheduler is off)."
    )


class RunRequest(BaseModel):
    job: JobName = Field("discovery", description="The job to run; its follow-ups run after it.")


def _service(request: Request) -> JobControl | None:
    return getattr(request.app.state, "jobs", None)


@router.get("", response_model=JobRunPage, responses=CSV_RESPONSE, summary="Job run history")
def list_runs(
    request: Request,
    cursor: CursorDep,
    fmt: FormatDep,
    job: Annotated[JobName | None, Query(description="Only runs of this job.")] = None,
    status: Annotated[StatusParam | None, Query(description="Only runs in this status.")] = None,
    parent: Annotated[
        int | None, Query(ge=1, description="Only the follow-ups of this run.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobRunPage | Response:
    runs = jobs.list_runs(
        cursor, job=job, status=status, parent_id=parent, limit=limit, offset=offset
    )
    if fmt == "csv":
        rows = ({**run.as_dict(), "counts": json.dumps(run.counts)} for run in runs)
        return csv_response(rows, jobs.COLUMNS, filename="runs.csv")
    service = _service(request)
    return JobRunPage(
        runs=[JobRunOut.model_validate(run.as_dict()) for run in runs],
        active=service.active() if service else {},
        next_runs=service.next_runs() if service else {},
    )


@router.get("/{run_id}", response_model=JobRunOut, summary="One job run")
def get_run(cursor: CursorDep, run_id: Annotated[int, Path(ge=1)]) -> JobRunOut:
    run = jobs.get_run(cursor, run_id)
    if run is None:
        raise NotFoundError(f"no job run {run_id}", "GET /v1/runs lists the runs")
    return JobRunOut.model_validate(run.as_dict())


@router.post(
    "",
    response_model=JobRunOut,
    status_code=202,
    dependencies=[WriteAccess],
    summary="Run a job now (needs X-API-Key; 409 while that job is queued or running)",
)
def trigger_run(request: Request, body: RunRequest | None = None) -> JobRunOut:
    service = _service(request)
    if service is None:
        raise WritesDisabledError(
            "the scheduler is off on this server", "start it with `stackatlas serve` (without "
            "--no-scheduler), or run the job with `stackatlas run-now` while no server runs"
        )
    run = service.trigger((body or RunRequest()).job)
    return JobRunOut.model_validate(run.as_dict())
