"""The FastAPI application: routers, error handlers and the one shared DuckDB connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import duckdb
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import metrics
from api.answers import AnswerCache
from api.errors import install_error_handlers
from api.http import install_http_behaviour
from api.openapi import install_truthful_openapi
from api.routes import (
    charts,
    counts,
    dashboard,
    estimates,
    meta,
    releases,
    repos,
    review,
    runs,
    trends,
)
from api.routes.runs import JobControl
from dashboards.exports import RenderCache
from stackatlas import __version__
from stackatlas.settings import Settings, get_settings
from warehouse.db import connect

log = logging.getLogger(__name__)

DESCRIPTION = """A live map of the AI stack on GitHub: repositories with their layer and category,
their label history, and counts by creation month. Errors always have the shape
`{"error": {"code", "message", "hint"}}`. Writes need the `X-API-Key` header.

Every GET also answers HEAD; whole answers carry a strong `ETag` (304 on `If-None-Match`) and a
`Cache-Control`; gzip when asked for; collections answer JSON or CSV (`?format=` or `Accept`)."""


def create_app(
    settings: Settings | None = None,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    jobs: JobControl | None = None,
) -> FastAPI:
    """The API over ``connection``, or over ``settings.db_path`` opened while the app runs.

    A connection passed in stays open when the app stops: its owner closes it. ``jobs`` (the
    scheduler of `stackatlas serve`) is started with the app and shut down when it stops.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = connection is None
        if owned:
            log.info("opening the warehouse %s", settings.db_path)
            app.state.connection = connect(settings.db_path)
        if jobs is not None:
            jobs.start()
        try:
            yield
        finally:
            if jobs is not None:
                await asyncio.to_thread(jobs.shutdown)  # waits for a job to checkpoint
            if owned:
                app.state.connection.close()
                app.state.connection = None

    app = FastAPIOffline(
        title="stackatlas",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.connection = connection
    app.state.jobs = jobs
    app.state.chart_cache = RenderCache()
    app.state.answer_cache = AnswerCache()
    install_error_handlers(app)
    install_http_behaviour(app, settings)
    app.add_middleware(metrics.MetricsMiddleware)
    modules = (meta, metrics, repos, counts, estimates, review, trends, releases, runs, charts)
    for module in (*modules, dashboard):
        app.include_router(module.router)
    install_truthful_openapi(app)
    return app
