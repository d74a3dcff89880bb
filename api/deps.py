"""Shared request dependencies, as ``Annotated`` aliases the routes declare.

The server process is the one DuckDB writer while it runs: the app holds a single connection and
every request works on its own cursor of it (a cursor is a connection to the same database that is
safe to use from the request's thread).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Annotated, TypeVar

import duckdb
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import InvalidParameterError, WritesDisabledError
from stackatlas.errors import AuthError, ConfigError
from stackatlas.settings import Settings


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def get_cursor(request: Request) -> AsyncIterator[duckdb.DuckDBPyConnection]:
    """The request's own cursor. Opening and closing one does no I/O, so this runs on the event
    loop rather than costing two hops to the thread pool per request."""
    connection: duckdb.DuckDBPyConnection | None = getattr(request.app.state, "connection", None)
    if connection is None:
        raise ConfigError(
            "the API has no database connection",
            "start the app through `stackatlas serve` or use it as a context manager in tests",
        )
    cursor = connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


T = TypeVar("T")

# Side queries of a request (a page's total beside the page itself) run on a thread of their own
# while a core is spare, so that one request alone uses two cores; under load (every spare slot
# taken) they run inline, which costs no extra thread hand-offs when no core is idle anyway.
SPARE_SLOTS = 1
_SIDE_QUERIES = ThreadPoolExecutor(max_workers=SPARE_SLOTS, thread_name_prefix="stackatlas-side")
_SPARE = threading.BoundedSemaphore(SPARE_SLOTS)


def query_beside(
    cursor: duckdb.DuckDBPyConnection,
    query: Callable[..., T],
    *args: object,
    **kwargs: object,
) -> Future[T]:
    """``query(own_cursor, *args, **kwargs)`` on a cursor of its own: started on a side thread
    when a slot is free, else run now; ``.result()`` gives its answer either way."""

    def run() -> T:
        own = cursor.cursor()
        try:
            return query(own, *args, **kwargs)
        finally:
            own.close()

    if _SPARE.acquire(blocking=False):
        future = _SIDE_QUERIES.submit(run)
        future.add_done_callback(lambda _: _SPARE.release())
        return future
    done: Future[T] = Future()
    try:
        done.set_result(run())
    except Exception as exc:  # handed over as the side thread would: at .result()
        done.set_exception(exc)
    return done


api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The server's STACKATLAS_API_KEY."
)


def require_api_key(
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> None:
    """Writes need ``X-API-Key`` equal to the configured key; without a key they are disabled."""
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise WritesDisabledError(
            "writes are disabled on this server", "set STACKATLAS_API_KEY to enable writes"
        )
    expected = settings.api_key.get_secret_value().encode()
    if x_api_key is None or not secrets.compare_digest(x_api_key.encode(), expected):
        raise AuthError("missing or wrong API key", "send the server's key in the X-API-Key header")


CursorDep = Annotated[duckdb.DuckDBPyConnection, Depends(get_cursor)]
WriteAccess = Depends(require_api_key)


def taxonomy_categories() -> list[str]:
    from classifier import taxonomy

    return list(taxonomy.CATEGORIES)


def taxonomy_layers() -> list[str]:
    from classifier import taxonomy

    return list(taxonomy.LAYERS)


def checked_category(value: str | None, parameter: str = "category") -> str | None:
    """``value`` if the taxonomy knows it (or it is absent); else a 422 naming the allowed ones."""
    allowed = taxonomy_categories()
    if value is not None and value not in allowed:
        raise InvalidParameterError.outside(parameter, value, allowed)
    return value


def checked_layer(value: str | None, parameter: str = "layer") -> str | None:
    allowed = taxonomy_layers()
    if value is not None and value not in allowed:
        raise InvalidParameterError.outside(parameter, value, allowed)
    return value
