"""Running the API with uvicorn: ``stackatlas serve`` calls ``serve``."""

from __future__ import annotations

import logging

import duckdb
import uvicorn

from api.app import create_app
from api.routes.runs import JobControl
from stackatlas.settings import Settings
from warehouse.db import connect

log = logging.getLogger(__name__)

# Seconds uvicorn waits for open requests (a keep-alive client) once asked to stop; the jobs
# then get ``settings.stop_timeout`` to checkpoint, within the 10 s a service manager allows.
GRACEFUL_SECONDS = 1.0


def server_for(
    settings: Settings,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    jobs: JobControl | None = None,
) -> uvicorn.Server:
    """A uvicorn server for the app on ``settings.host:settings.port`` (not yet started)."""
    config = uvicorn.Config(
        create_app(settings, connection=connection, jobs=jobs),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep the logging stackatlas configured
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    return uvicorn.Server(config)


def serve(
    settings: Settings,
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    jobs: JobControl | None = None,
) -> None:
    """Serve until interrupted. Without ``connection`` the server opens (and holds) the database.

    The database is opened before uvicorn starts, so that a file held by another process fails
    as one ``DatabaseLockedError`` line from the CLI rather than a startup traceback.
    """
    if connection is None:
        connection = connect(settings.db_path)
        try:
            _run(settings, connection, jobs)
        finally:
            connection.close()
        return
    _run(settings, connection, jobs)


def _run(
    settings: Settings, connection: duckdb.DuckDBPyConnection, jobs: JobControl | None
) -> None:
    log.info("serving on http://%s:%d", settings.host, settings.port)
    server_for(settings, connection=connection, jobs=jobs).run()
