"""Running the API with uvicorn: ``stackatlas serve`` calls ``serve``."""

from __future__ import annotations

import logging

import duckdb
import uvicorn

from api.app import create_app
from stackatlas.settings import Settings
from warehouse.db import connect

log = logging.getLogger(__name__)


def server_for(
    settings: Settings, *, connection: duckdb.DuckDBPyConnection | None = None
) -> uvicorn.Server:
    """A uvicorn server for the app on ``settings.host:settings.port`` (not yet started)."""
    config = uvicorn.Config(
        create_app(settings, connection=connection),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the logging stackatlas configured
    )
    return uvicorn.Server(config)


def serve(settings: Settings, *, connection: duckdb.DuckDBPyConnection | None = None) -> None:
    """Serve until interrupted. Without ``connection`` the server opens (and holds) the database.

    The database is opened before uvicorn starts, so that a file held by another process fails
    as one ``DatabaseLockedError`` line from the CLI rather than a startup traceback.
    """
    if connection is None:
        connection = connect(settings.db_path)
        try:
            _run(settings, connection)
        finally:
            connection.close()
        return
    _run(settings, connection)


def _run(settings: Settings, connection: duckdb.DuckDBPyConnection) -> None:
    log.info("serving on http://%s:%d", settings.host, settings.port)
    server_for(settings, connection=connection).run()
