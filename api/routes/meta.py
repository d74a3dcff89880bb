"""Health, the taxonomy and the endpoint index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
from fastapi import APIRouter, Request

from api.deps import CursorDep, SettingsDep
from api.schemas import EndpointInfo, Health, Index, Readiness, Taxonomy
from stackatlas import __version__
from stackatlas.errors import NotReadyError
from warehouse.db import first_line
from warehouse.queries import database_location, repository_count, schema_version
from warehouse.status import last_success_at

router = APIRouter(tags=["meta"])

_NOT_READY = {503: {"description": "Database unreachable, or the data older than allowed."}}


@router.get("/healthz", response_model=Health, summary="Is the process alive (no DB touch)")
def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=_NOT_READY,
    summary="Can it serve: database reachable and last successful run recent enough",
)
def readyz(cursor: CursorDep, settings: SettingsDep) -> Readiness:
    try:
        finished = last_success_at(cursor)
        readiness = Readiness(
            status="ready",
            database=database_location(cursor),
            repositories=repository_count(cursor),
            schema_version=schema_version(cursor),
            last_success_at=finished,
            last_success_age_seconds=_age_seconds(finished),
        )
    except duckdb.Error as exc:
        raise NotReadyError(
            f"the database does not answer ({first_line(exc)})", "check the server log"
        ) from exc
    _check_fresh(readiness, settings.ready_max_age_hours)
    return readiness


def _age_seconds(finished: datetime | None) -> float | None:
    if finished is None:
        return None
    return (datetime.now(UTC).replace(tzinfo=None) - finished).total_seconds()


def _check_fresh(readiness: Readiness, max_age_hours: float) -> None:
    if max_age_hours <= 0:
        return
    age = readiness.last_success_age_seconds
    if age is None:
        raise NotReadyError(
            "no crawl run has succeeded yet", "run `stackatlas crawl` (or wait for the scheduler)"
        )
    if age > max_age_hours * 3600:
        raise NotReadyError(
            f"the last successful crawl finished {age / 3600:.1f} h ago, more than the "
            f"{max_age_hours:g} h allowed",
            "check the crawl job's runs and the server log; STACKATLAS_READY_MAX_AGE_HOURS "
            "sets the limit",
        )


@router.get("/v1/taxonomy", response_model=Taxonomy, summary="Layers, categories, definitions")
def get_taxonomy() -> dict[str, Any]:
    from classifier.taxonomy import taxonomy_as_dict

    return taxonomy_as_dict()


@router.get("/v1", response_model=Index, summary="The endpoints of this API")
def index(request: Request) -> Index:
    paths: dict[str, dict[str, Any]] = request.app.openapi()["paths"]
    endpoints = [
        EndpointInfo(
            path=path,
            methods=sorted(method.upper() for method in operations),
            summary=next((op.get("summary") for op in operations.values()), None),
        )
        for path, operations in paths.items()
    ]
    return Index(endpoints=endpoints)
