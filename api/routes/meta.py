"""Health, the taxonomy and the endpoint index."""

from __future__ import annotations

from typing import Any

import duckdb
from fastapi import APIRouter, Request

from api.deps import CursorDep
from api.schemas import EndpointInfo, Health, Index, Taxonomy
from stackatlas.errors import DatabaseError
from warehouse.queries import database_location, repository_count, schema_version

router = APIRouter(tags=["meta"])


@router.get("/healthz", response_model=Health, summary="Is the service and its database up")
def healthz(cursor: CursorDep) -> Health:
    try:
        return Health(
            status="ok",
            database=database_location(cursor),
            repositories=repository_count(cursor),
            schema_version=schema_version(cursor),
        )
    except duckdb.Error as exc:
        raise DatabaseError(f"the database does not answer: {exc}", "check the server log") from exc


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
