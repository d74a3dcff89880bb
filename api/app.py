"""The FastAPI application: routers, error handlers and the one shared DuckDB connection."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import duckdb
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.errors import install_error_handlers
from api.routes import counts, dashboard, estimates, meta, repos, review
from dashboards.page import DashboardCache
from stackatlas import __version__
from stackatlas.settings import Settings, get_settings
from warehouse.db import connect

log = logging.getLogger(__name__)

DESCRIPTION = """A live map of the AI stack on GitHub: repositories with their layer and category,
their label history, and counts by creation month. Errors always have the shape
`{"error": {"code", "message", "hint"}}`. Writes need the `X-API-Key` header."""


def create_app(
    settings: Settings | None = None, *, connection: duckdb.DuckDBPyConnection | None = None
) -> FastAPI:
    """The API over ``connection``, or over ``settings.db_path`` opened while the app runs.

    A connection passed in stays open when the app stops: its owner closes it.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if connection is not None:
            yield
            return
        log.info("opening the warehouse %s", settings.db_path)
        app.state.connection = connect(settings.db_path)
        try:
            yield
        finally:
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
    app.state.dashboard_cache = DashboardCache()
    install_error_handlers(app)
    for module in (meta, repos, counts, estimates, review, dashboard):
        app.include_router(module.router)
    return app
