"""Opening the warehouse.

DuckDB lets one process write a database file; other processes may not even read it while the
writer holds it. stackatlas therefore keeps one writer at a time: a CLI command opens the file for
its own length, and ``stackatlas serve`` holds it while it runs, with the scheduled jobs and every
API request inside it on cursors of their own (how they share it: ``stackatlas.scheduler``).
A second process gets a ``DatabaseLockedError`` naming the holder; a file it may not write, a
``DatabaseError`` saying so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from stackatlas.errors import DatabaseError, DatabaseLockedError, DiskFullError
from warehouse.schema import apply_migrations

log = logging.getLogger(__name__)

_LOCK_PID = re.compile(r"PID (\d+)")
_DISK_FULL = ("no space left on device", "disk quota exceeded", "file too large")
_DAMAGED = ("not a valid duckdb database", "could not read enough bytes", "corrupt", "checksum")


def connect(
    path: Path | str, *, read_only: bool = False, migrate: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open (and by default migrate) the DuckDB file at ``path``; ``":memory:"`` for a throwaway."""
    target = str(path)
    if target != ":memory:" and not read_only:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        raise _open_error(target, exc) from exc
    except duckdb.Error as exc:
        raise DatabaseError(
            f"cannot open database {target}: {exc}",
            "check the path, or move a damaged file aside and run `stackatlas db migrate`",
        ) from exc
    if migrate and not read_only:
        try:
            apply_migrations(con)
        except duckdb.Error as exc:
            con.close()
            raise database_error(exc, target) from None
    return con


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_error(exc: duckdb.Error, target: str = "the warehouse") -> DatabaseError:
    """A DuckDB failure as one clear error: a full disk, a damaged file, or anything else."""
    text = first_line(exc)
    lowered = text.lower()
    if any(marker in lowered for marker in _DISK_FULL):
        return DiskFullError(
            f"the disk under {target} is full ({text}); the write was rolled back",
            "free some disk space, then run the command again (stored data is intact)",
        )
    if any(marker in lowered for marker in _DAMAGED):
        return DatabaseError(
            f"database {target} is damaged or truncated ({text})",
            f"restore it from a backup, or move it aside (mv {target} {target}.damaged) and "
            "run `stackatlas crawl` to build a new one",
        )
    return DatabaseError(
        f"the warehouse failed: {text}", "check the database file with `stackatlas db status`"
    )


def _open_error(target: str, exc: duckdb.Error) -> DatabaseError:
    text = str(exc)
    if "lock" in text.lower():
        match = _LOCK_PID.search(text)
        holder = f"process {match.group(1)}" if match else "another process"
        return DatabaseLockedError(
            f"database {target} is in use by {holder}",
            "stop that process (for example `stackatlas serve`) or use the API while it runs",
        )
    if not Path(target).exists():
        return DatabaseError(
            f"database {target} does not exist",
            "run `stackatlas db migrate --db PATH` or `stackatlas crawl` to create it",
        )
    if "permission denied" in text.lower() or "read-only" in text.lower():
        return DatabaseError(
            f"database {target} is not writable (a read-only file or folder)",
            "give this user write access to the file and its folder, or choose another --db",
        )
    if any(marker in text.lower() for marker in _DISK_FULL + _DAMAGED):
        return database_error(exc, target)
    return DatabaseError(
        f"cannot open database {target}: {first_line(exc)}", "check the file and its rights"
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One explicit transaction: committed at the end of the block, rolled back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def fetch_dicts(
    con: duckdb.DuckDBPyConnection, query: str, params: object = None
) -> list[dict[str, object]]:
    """Run a query and return its rows as dicts (fully fetched, so the connection is free again)."""
    cursor = con.execute(query, params) if params is not None else con.execute(query)
    columns = [d[0] for d in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def fetch_frame(
    con: duckdb.DuckDBPyConnection, query: str, params: object = None
) -> pl.DataFrame:
    """Run a query and return a polars frame."""
    return con.sql(query, params=params).pl() if params is not None else con.sql(query).pl()
