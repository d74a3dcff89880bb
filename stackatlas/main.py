"""The `stackatlas` entry point: every command registered, one clear line for every failure."""

from __future__ import annotations

import logging

import duckdb
from rich.console import Console

from stackatlas import commands  # registers the commands on the app
from stackatlas.cli import app
from stackatlas.errors import StackatlasError
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
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        raise SystemExit(130) from None


def _fail(exc: StackatlasError) -> None:
    log.debug("command failed", exc_info=True)
    Console(stderr=True, soft_wrap=True).print(
        f"error: {exc.one_line()}", markup=False, highlight=False
    )
    raise SystemExit(exc.exit_code) from None
