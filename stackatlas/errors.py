"""The one error hierarchy of stackatlas.

Every error carries a message (what failed) and a hint (what to do next). The CLI prints both on
one line and exits non-zero; the API turns them into one JSON error shape.
"""

from __future__ import annotations

import errno
import re


class StackatlasError(Exception):
    """Base class: something failed that the user can act on."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(StackatlasError):
    """A setting is missing or invalid."""

    exit_code = 2


class DatabaseError(StackatlasError):
    """The warehouse cannot be opened, migrated or written."""


class DatabaseLockedError(DatabaseError):
    """Another process holds the DuckDB file for writing."""


class DiskFullError(DatabaseError):
    """The disk under the warehouse is full: the write was rolled back, nothing was stored."""

    exit_code = 3
    http_status = 507


class NotReadyError(StackatlasError):
    """The service is up but cannot serve fresh data (database unreachable or data stale)."""

    http_status = 503


class SnapshotError(StackatlasError):
    """A snapshot file is missing or malformed."""

    exit_code = 2


class ConflictError(StackatlasError):
    """The request clashes with work in progress (for example a job that is already running)."""

    http_status = 409


class Interrupted(StackatlasError):
    """A signal or a shutdown asked a run to stop; it saved its progress before stopping.

    The exit code is set by whoever caught the signal: 0 for SIGTERM (a requested, clean stop),
    130 for Ctrl-C.
    """

    http_status = 503


class GitHubError(StackatlasError):
    """GitHub (or the replay server) answered with an error we cannot retry past."""

    http_status = 502


class RateLimitError(GitHubError):
    """A rate limit would be broken, or the wait for it exceeds what the caller allows."""


class LLMError(StackatlasError):
    """The LLM endpoint is unreachable, failed, or answered something unusable."""

    http_status = 502


class BudgetExhaustedError(LLMError):
    """The per-run LLM budget (requests or tokens) is spent."""


class LabelsFileError(StackatlasError):
    """A labels file is malformed or names a category outside the taxonomy."""

    exit_code = 2
    http_status = 422


class NotFoundError(StackatlasError):
    """A requested repository or resource does not exist."""

    http_status = 404


class AuthError(StackatlasError):
    """A request lacks valid credentials (for example the API key of a write endpoint)."""

    http_status = 401


class PathError(StackatlasError):
    """A file or folder a command reads or writes cannot be used (missing, wrong kind, full)."""

    exit_code = 2


def path_error(exc: OSError) -> PathError:
    """The one line for an operating-system error on a path given to a command."""
    reason = exc.strerror or str(exc)
    where = exc.filename or "a file"
    # Rust-backed writers (polars) raise a bare OSError whose text ends "(os error N): path"
    code = exc.errno or next((int(n) for n in re.findall(r"\(os error (\d+)\)", reason)), None)
    if code == errno.ENOSPC:
        return PathError(f"cannot write {where}: {reason}", "free some disk space, then run again")
    return PathError(
        f"cannot use {where}: {reason}",
        "check the path: its folder must exist, a file must not be a folder (or the reverse), "
        "and it must be writable",
    )
