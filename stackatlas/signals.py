"""SIGTERM and Ctrl-C for the commands that write: stop at the next checkpoint, never mid-page.

``stop_on_signals`` turns the first SIGTERM or SIGINT into a ``threading.Event`` that the crawl
checks between pages and requests; the crawl then marks its run failed (resumable) and raises
``Interrupted``, which the entry point prints as one line. A SIGTERM ends with exit code 0 (a
requested stop that saved everything), a Ctrl-C with 130. A second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from stackatlas.errors import Interrupted

log = logging.getLogger(__name__)

EXIT_CODES = {signal.SIGTERM: 0, signal.SIGINT: 130}


@dataclass
class StopRequest:
    event: threading.Event = field(default_factory=threading.Event)
    signum: int | None = None

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signum = signum
        self.event.set()
        log.warning("%s received: stopping at the next checkpoint", signal.Signals(signum).name)
        if signum == signal.SIGINT:  # a second Ctrl-C interrupts at once
            signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """SIGTERM/SIGINT set ``request.event`` while the block runs (main thread only)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.signal(sig, request.handle) for sig in EXIT_CODES}
    try:
        yield request
    except Interrupted as exc:
        if request.signum is not None:
            exc.exit_code = EXIT_CODES[signal.Signals(request.signum)]
            exc.message = f"stopped by {signal.Signals(request.signum).name}: {exc.message}"
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
