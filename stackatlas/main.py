"""The `stackatlas` entry point: every command registered, one clear line for every failure."""

from __future__ import annotations

import logging

import duckdb
from rich.console import Console

from stackatlas import commands  # registers the commands on the app
from stackatlas.cli import app
from stackatlas.errors import DatabaseLockedError, StackatlasError, path_error
from warehouse.db import database_error

log = logging.getLogger(__name__)

__all__ = ["app", "commands", "main"]


def main() -> None:
    """Entry point: one clear line and a non-zero exit for every expected failure."""
    try:
        app()
    except StackatlasError as exc:
        _fail(exc)
    except duckdb.Error as exc:  # a write that failed under a command (full disk, damage)
        _fail(database_error(exc))
    except BrokenPipeError:  # the reader of our output went away (`| head`): nothing to say
        raise SystemExit(1) from None
    except OSError as exc:  # a file or folder given to a command cannot be read or written
        _fail(path_error(exc))
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        raise SystemExit(130) from None


def _fail(exc: StackatlasError) -> None:
    log.debug("command failed", exc_info=True)
    if isinstance(exc, DatabaseLockedError):
        exc = _name_the_server(exc)
    prefix = "error: " if exc.exit_code else ""
    Console(stderr=True, soft_wrap=True).print(
        f"{prefix}{exc.one_line()}", markup=False, highlight=False
    )
    raise SystemExit(exc.exit_code) from None


def _name_the_server(exc: DatabaseLockedError) -> DatabaseLockedError:
    """When the process holding the database is our server, say so and how to reach it."""
    from stackatlas.remote import running_server
    from stackatlas.settings import get_settings

    url = running_server(get_settings())
    if url is None:
        return exc
    return DatabaseLockedError(
        f"{exc.message}: the stackatlas server at {url}",
        "while it runs, go through it: `stackatlas run-now JOB` or the API "
        f"({url}/docs); or stop it first",
    )
