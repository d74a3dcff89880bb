"""How a crawl shows its progress: a rich display on a terminal, plain log lines otherwise.

The crawl calls the same few methods on either; waiting goes through ``sleep`` so that the rich
display can count down while a rate limit holds the crawl.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

log = logging.getLogger(__name__)


class LogProgress:
    """Plain log lines: one per slice page, per phase and per wait."""

    def __init__(self, sleep_function: object = time.sleep) -> None:
        self._sleep = sleep_function
        # Set when the crawl must stop: a wait in progress ends at once (see ``sleep``).
        self.stop = threading.Event()
        self.repos = 0
        self.pages = 0
        self.slices = 0

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def slice_started(self, label: str) -> None:
        log.debug("slice %s", label)

    def page_saved(self, label: str, page: int, last_page: int, new_repos: int) -> None:
        self.pages += 1
        self.repos += new_repos
        log.info("saved page %d/%d of %s (%d repositories so far)", page, last_page, label,
                 self.repos)

    def slice_done(self, label: str, total_count: int) -> None:
        self.slices += 1
        log.info("slice done: %s (%d results)", label, total_count)

    def phase(self, name: str, total: int) -> None:
        log.info("%s: %d to do", name, total)

    def advance(self) -> None:
        return None

    def rate(self, remaining: Mapping[str, int | None]) -> None:
        return None

    def waiting(self, bucket: str, seconds: float, reason: str) -> None:
        return None

    def sleep(self, seconds: float) -> None:
        if self._sleep is time.sleep:
            self.stop.wait(seconds)
        else:
            self._sleep(seconds)  # type: ignore[operator]


class RichProgress(LogProgress):
    """Slices, pages, repositories, requests left per bucket and a countdown while waiting."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True)
        self.display = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )
        self.search_task: TaskID = self.display.add_task("search", total=None, info="")
        self.phase_task: TaskID | None = None
        self.status_task: TaskID = self.display.add_task("limits", total=None, info="")
        self._remaining: dict[str, int | None] = {}

    def __enter__(self) -> RichProgress:
        self.display.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.display.stop()

    def page_saved(self, label: str, page: int, last_page: int, new_repos: int) -> None:
        self.pages += 1
        self.repos += new_repos
        self.display.update(
            self.search_task, completed=self.slices,
            info=f"{self.slices} slices, {self.pages} pages, {self.repos} repositories  {label}",
        )

    def slice_done(self, label: str, total_count: int) -> None:
        self.slices += 1
        self.display.update(self.search_task, completed=self.slices)

    def phase(self, name: str, total: int) -> None:
        self.phase_task = self.display.add_task(name, total=total, info="")

    def advance(self) -> None:
        if self.phase_task is not None:
            self.display.advance(self.phase_task)

    def rate(self, remaining: Mapping[str, int | None]) -> None:
        self._remaining = dict(remaining)
        self._show_limits("")

    def _show_limits(self, extra: str) -> None:
        left = ", ".join(
            f"{bucket} {'?' if n is None else n} left" for bucket, n in self._remaining.items()
        )
        self.display.update(self.status_task, info=f"{left}  {extra}".strip())

    def waiting(self, bucket: str, seconds: float, reason: str) -> None:
        self._reason = reason

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self.stop.is_set():
            if seconds >= 1:
                self._show_limits(f"waiting {left:4.0f} s ({getattr(self, '_reason', '')})")
            time.sleep(min(left, 0.5))
        self._show_limits("")


def make_progress(enabled: bool, stop: threading.Event | None = None) -> LogProgress:
    """A rich display when asked for and on a terminal; log lines otherwise. Its waits end
    early once ``stop`` is set."""
    display = RichProgress() if enabled and sys.stderr.isatty() else LogProgress()
    if stop is not None:
        display.stop = stop
    return display
