"""Logging setup: rich on a terminal, plain lines otherwise, one JSON object per line on request.

Every module logs through the standard ``logging`` module; structlog's ``ProcessorFormatter``
renders the JSON lines (timestamp, level, logger, event, exception), so that third-party loggers
(uvicorn, httpx, APScheduler) come out in the same shape. Whatever the format, every line goes
through a redactor that blanks the secrets in force: a token that slipped into an exception
message or a traceback still never reaches the log.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

import structlog
from rich.logging import RichHandler

TEXT = "text"
JSON = "json"
REDACTED = "[redacted]"
_NOISY = ("httpx", "httpcore", "uvicorn.access", "hpack")


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then blanks every secret (raw and JSON-escaped) in the line."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = _variants(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


def _variants(secrets: Iterable[str]) -> list[str]:
    """Each secret as it may appear in a line: raw, JSON-escaped, repr-escaped; longest first."""
    found: set[str] = set()
    for secret in secrets:
        if len(secret) < 4:  # too short to blank without mangling ordinary words
            continue
        found.update({secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]})
    return sorted(found, key=len, reverse=True)


def json_formatter() -> logging.Formatter:
    """One JSON object a line: timestamp, level, logger, event, and exception if any."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )


def _text_handler() -> logging.Handler:
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


def configure_logging(
    level: str = "INFO", *, log_format: str = TEXT, secrets: Iterable[str] = ()
) -> None:
    """Send every log record to stderr in ``log_format``, with ``secrets`` blanked out."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    if log_format == JSON:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter())
    else:
        handler = _text_handler()
    handler.setFormatter(RedactingFormatter(handler.formatter or logging.Formatter(), secrets))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; keep it for DEBUG runs only.
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
