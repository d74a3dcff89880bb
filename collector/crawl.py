"""One crawl run: discover repositories by search, then fetch details; resumable at any point.

The CLI (`stackatlas crawl`), the demo pipeline and the scheduler all call ``run_crawl``. Fetching
lives in ``collector.github``, saving in ``warehouse.crawls``/``warehouse.repos``, presenting in
``collector.progress``; this module only decides what to do next, from the state in the warehouse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import duckdb
import httpx

from collector import details
from collector.discovery import (
    SEARCH_CAP,
    QuerySet,
    Slice,
    Sweep,
    all_500_query_set,
    load_query_set,
    plan_from_previous,
    splittable,
)
from collector.github import GitHubClient, SearchPage
from collector.progress import LogProgress, make_progress
from collector.ratelimit import RateLimiter
from stackatlas.errors import DatabaseError, GitHubError, Interrupted, StackatlasError
from stackatlas.settings import Settings
from warehouse import crawls
from warehouse.db import database_error, first_line

log = logging.getLogger(__name__)

MODE_QUERIES = "queries"
MODE_ALL_500 = "all-500"


@dataclass
class CrawlResult:
    run_id: int
    mode: str
    query_set: str
    resumed: bool = False
    repos_seen: int = 0
    new: int = 0
    renamed: int = 0
    vanished: int = 0
    below_threshold: int = 0
    readmes_changed: int = 0
    star_dates: int = 0
    slices: int = 0
    wasted_probes: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    waits: int = 0
    wait_seconds: float = 0.0
    incomplete_slices: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """Some search slices stayed incomplete: repositories may be missing from this run."""
        return bool(self.incomplete_slices)

    def __str__(self) -> str:
        requests = ", ".join(f"{k} {v}" for k, v in sorted(self.requests.items()))
        partial = (
            f"PARTIAL run {self.run_id}: {partial_note(self.incomplete_slices)}\n"
            if self.partial else ""
        )
        return partial + (
            f"run {self.run_id} ({self.mode}{', resumed' if self.resumed else ''}): "
            f"{self.repos_seen} repositories seen, {self.new} new, {self.renamed} renamed, "
            f"{self.vanished} vanished, {self.below_threshold} below threshold; "
            f"{self.slices} slices; requests: {requests}; "
            f"waited {self.wait_seconds:.0f} s in {self.waits} waits"
        )


def run_crawl(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    api_url: str | None = None,
    all_500: bool = False,
    queries_file: Path | None = None,
    resume: bool = False,
    readme: bool | None = None,
    star_history: bool | None = None,
    progress: bool = True,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    reset_margin: float = 1.0,
    backoff_base: float = 1.0,
    stop: threading.Event | None = None,
) -> CrawlResult:
    """Crawl into the warehouse and return what the run did.

    ``resume`` continues the newest unfinished run (same mode and queries) without refetching
    its finished slices; with nothing to resume it starts a new run. ``stop`` (set by a signal
    handler or a shutting-down server) ends the run at the next page or request: what is saved
    stays, the run is marked failed and ``Interrupted`` is raised; the next resume continues it.
    ``transport``, ``clock`` and ``sleep`` are for tests.
    """
    stop = stop or threading.Event()
    display = make_progress(progress, stop)
    client = _client(
        settings, api_url or settings.api_url, display, stop, transport=transport, clock=clock,
        sleep=sleep, reset_margin=reset_margin, backoff_base=backoff_base,
    )
    with client, display:
        crawler = Crawler(con, client, settings, display, stop)
        return crawler.run(
            api_url=api_url or settings.api_url,
            all_500=all_500,
            queries_file=queries_file or settings.queries_file,
            resume=resume,
            readme=settings.fetch_readme if readme is None else readme,
            star_history=settings.star_history if star_history is None else star_history,
        )


def partial_note(incomplete: list[str]) -> str:
    shown = ", ".join(incomplete[:3]) + (f" and {len(incomplete) - 3} more" if len(incomplete) > 3
                                         else "")
    return (
        f"{len(incomplete)} search slice(s) stayed incomplete after retries ({shown}); "
        "repositories may be missing — the next run (or `stackatlas crawl --resume`) fetches "
        "them again"
    )


def _label(row: crawls.SliceRow) -> str:
    return Slice.of(row).label
def revalidate_readmes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    checked_before: datetime,
    stop: threading.Event | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, int]:
    """Ask again for every active repository's README last checked before ``checked_before``,
    with its ETag (an unchanged README answers 304 and costs nothing). Resumable: a killed pass
    leaves the repositories it checked with a newer check time."""
    stop = stop or threading.Event()
    display = make_progress(False, stop)
    client = _client(settings, settings.api_url, display, stop, transport=transport)
    todo = crawls.readmes_checked_before(con, checked_before)
    log.info("README revalidation: %d to check", len(todo))
    with client, display:
        changed = details.revalidate_readmes(client, con, todo, lambda: _check(stop))
    return {"checked": len(todo), "changed": changed,
            "requests": sum(client.stats.requests.values())}


def _client(
    settings: Settings,
    api_url: str,
    display: LogProgress,
    stop: threading.Event,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    reset_margin: float = 1.0,
    backoff_base: float = 1.0,
) -> GitHubClient:
    """A GitHub client whose waits show on ``display`` and end once ``stop`` is set."""
    limiter = RateLimiter(
        clock=clock or time.time,
        sleep=_stoppable(sleep or display.sleep, stop),
        max_wait=settings.max_wait,
        reset_margin=reset_margin,
    )
    limiter.listeners.append(display.waiting)
    return GitHubClient(
        api_url,
        settings.github_token_value(),
        timeout=settings.http_timeout,
        max_retries=settings.max_retries,
        limiter=limiter,
        transport=transport,
        backoff_base=backoff_base,
    )


def _check(stop: threading.Event) -> None:
    if stop.is_set():
        raise Interrupted(
            "the crawl was asked to stop", "the next crawl (or `crawl --resume`) continues it"
        )


def _stoppable(sleep: Callable[[float], None], stop: threading.Event) -> Callable[[float], None]:
    """``sleep``, then ``Interrupted`` if ``stop`` was set meanwhile (the display's own sleep
    returns as soon as it is: a rate-limit wait of an hour must not hold a shutdown)."""

    def wait(seconds: float) -> None:
        _check(stop)
        sleep(seconds)
        _check(stop)

    return wait


class Crawler:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        client: GitHubClient,
        settings: Settings,
        display: LogProgress,
        stop: threading.Event | None = None,
    ) -> None:
        self.con = con
        self.client = client
        self.settings = settings
        self.display = display
        self.stop = stop or threading.Event()
        self.wasted = 0
        self._requests_saved = 0

    # ------------------------------------------------------------------ the run

    def run(
        self,
        *,
        api_url: str,
        all_500: bool,
        queries_file: Path | None,
        resume: bool,
        readme: bool,
        star_history: bool,
    ) -> CrawlResult:
        run = crawls.unfinished_run(self.con) if resume else None
        resumed = run is not None
        if run is not None:
            with crawls.transaction(self.con):
                crawls.mark_running(self.con, run.id)
                reopened = crawls.reopen_incomplete(self.con, run.id, details.now_utc())
            log.info("resuming crawl run %d (%s); %d incomplete slices to fetch again",
                     run.id, run.mode, reopened)
        else:
            if resume:
                log.info("no unfinished crawl run to resume; starting a new one")
            run = self._start(api_url, all_500, queries_file)
        try:
            self._discover(run)
            self._details(run, readme, star_history)
        except StackatlasError as exc:
            self._fail(run, exc.one_line())
            raise
        except httpx.HTTPError as exc:
            self._fail(run, f"HTTP error: {type(exc).__name__}")
            raise GitHubError(
                f"cannot reach {api_url}: {type(exc).__name__}",
                "check --api-url and the network, then `stackatlas crawl --resume`",
            ) from exc
        except duckdb.Error as exc:
            self._fail(run, f"database error: {first_line(exc)}")
            error = database_error(exc)
            if type(error) is DatabaseError:
                error = DatabaseError(
                    f"the warehouse failed during the crawl: {first_line(exc)}",
                    "check the database file, then `stackatlas crawl --resume`",
                )
            raise error from exc
        self._flush_requests(run)
        self._finish(run)
        return self._result(run, resumed)

    def _finish(self, run: crawls.CrawlRun) -> None:
        """Succeeded, or partial when slices stayed incomplete (the next run fetches them)."""
        incomplete = [_label(s) for s in crawls.incomplete_slices(self.con, run.id)]
        if not incomplete:
            crawls.finish_run(self.con, run.id, crawls.SUCCEEDED, details.now_utc())
            return
        note = partial_note(incomplete)
        log.warning("crawl run %d is partial: %s", run.id, note)
        crawls.finish_run(self.con, run.id, crawls.PARTIAL, details.now_utc(), note)

    def _start(self, api_url: str, all_500: bool, queries_file: Path | None) -> crawls.CrawlRun:
        min_stars = self.settings.min_stars
        query_set: QuerySet = (
            all_500_query_set(min_stars) if all_500 else load_query_set(queries_file, min_stars)
        )
        started = details.now_utc()
        with crawls.transaction(self.con):
            crawls.abandon_unfinished(self.con, started)
            run = crawls.start_run(
                self.con, MODE_ALL_500 if all_500 else MODE_QUERIES, api_url, query_set.label,
                started,
            )
            for query in query_set.queries:
                planned = plan_from_previous(
                    query, [Slice.of(r) for r in crawls.previous_leaves(self.con, query)]
                )
                crawls.insert_slices(self.con, run.id, planned, started)
        log.info("crawl run %d: %d queries (%s)", run.id, len(query_set.queries), query_set.label)
        return run

    def _fail(self, run: crawls.CrawlRun, message: str) -> None:
        try:
            self._flush_requests(run)
            crawls.finish_run(self.con, run.id, crawls.FAILED, details.now_utc(), message)
        except duckdb.Error as exc:  # the disk may be full: the run stays open for --resume
            log.warning("could not record the failure of run %d: %s", run.id, first_line(exc))

    def _result(self, run: crawls.CrawlRun, resumed: bool) -> CrawlResult:
        counts = crawls.run_counts(self.con, run)
        slices = [Slice.of(s) for s in crawls.run_slices(self.con, run.id) if s.status != "split"]
        stats = self.client.limiter.stats
        return CrawlResult(
            run_id=run.id,
            mode=run.mode,
            query_set=run.query_set or "",
            resumed=resumed,
            repos_seen=counts["seen"],
            new=counts["new"],
            renamed=counts["renamed"],
            vanished=counts["vanished"],
            below_threshold=counts["below_threshold"],
            readmes_changed=getattr(self, "readmes_changed", 0),
            star_dates=getattr(self, "star_dates", 0),
            slices=len(slices),
            wasted_probes=self.wasted,
            requests=self.client.requests_by_bucket(),
            retries=dict(self.client.stats.retries),
            waits=stats.waits,
            wait_seconds=stats.seconds,
            incomplete_slices=[_label(s) for s in crawls.incomplete_slices(self.con, run.id)],
        )

    def _unsaved_requests(self) -> int:
        total = sum(self.client.stats.requests.values())
        unsaved, self._requests_saved = total - self._requests_saved, total
        return unsaved

    def _flush_requests(self, run: crawls.CrawlRun) -> None:
        crawls.add_requests(self.con, run.id, self._unsaved_requests())

    # ------------------------------------------------------------------ discovery

    def _discover(self, run: crawls.CrawlRun) -> None:
        queries = list(dict.fromkeys(s.query for s in crawls.run_slices(self.con, run.id)))
        for query in queries:
            self._discover_query(run, query)

    def _discover_query(self, run: crawls.CrawlRun, query: str) -> None:
        while True:
            slices = [Slice.of(s) for s in crawls.run_slices(self.con, run.id, query)]
            pending = next((s for s in slices if s.status == "pending"), None)
            if pending is not None:
                self._fetch_slice(run, pending)
                continue
            leaves = [s for s in slices if s.status != "split"]
            unfinished = [
                outer for outer in slices
                if outer.status == "split" and Sweep.start(outer, leaves).cursor(leaves)
            ]
            if not unfinished:
                return
            self._sweep(run, unfinished[0], leaves)

    def _search(self, piece: Slice, page: int) -> SearchPage:
        _check(self.stop)
        self.display.rate(self.client.limiter.remaining())
        return self.client.search_repositories(piece.search_query, page)

    def _fetch_slice(self, run: crawls.CrawlRun, piece: Slice) -> None:
        """Fetch the pages of a slice not fetched yet; a first page over 1,000 splits it."""
        self.display.slice_started(piece.label)
        if piece.pages_done == 0:
            first = self._search(piece, 1)
            if first.total_count > SEARCH_CAP and splittable(piece):
                self._record_split(run, piece, first.total_count)
                return
            piece = self._save(run, piece, 1, first)
        while piece.status == "pending":
            piece = self._save(run, piece, piece.pages_done + 1,
                               self._search(piece, piece.pages_done + 1))
        self.display.slice_done(piece.label, piece.total_count or 0)

    def _record_split(self, run: crawls.CrawlRun, piece: Slice, total_count: int) -> None:
        log.info("%s holds %d results: slicing it by creation date", piece.label, total_count)
        self.wasted += 1
        split = replace(piece, status="split", total_count=total_count)
        with crawls.transaction(self.con):
            crawls.insert_slices(self.con, run.id, [split], details.now_utc())
            crawls.add_requests(self.con, run.id, self._unsaved_requests())

    def _sweep(self, run: crawls.CrawlRun, outer: Slice, leaves: list[Slice]) -> None:
        """Cut ``outer`` into slices of at most 1,000 results, left to right."""
        inner = [s for s in leaves if outer.contains(s)]
        sweep = Sweep.start(outer, inner)
        while (cursor := sweep.cursor(inner)) is not None:
            probe = sweep.next_window(cursor)
            first = self._search(probe, 1)
            sweep.learn(probe, first.total_count)
            if first.total_count > SEARCH_CAP and splittable(probe):
                self.wasted += 1
                log.debug("%s holds %d: narrowing", probe.label, first.total_count)
                continue
            if first.total_count > SEARCH_CAP:
                log.warning("%s holds %d results on one day; only 1,000 are reachable",
                            probe.label, first.total_count)
            leaf = self._save(run, probe, 1, first)
            self.display.slice_started(leaf.label)
            while leaf.status == "pending":
                leaf = self._save(run, leaf, leaf.pages_done + 1,
                                  self._search(leaf, leaf.pages_done + 1))
            self.display.slice_done(leaf.label, leaf.total_count or 0)
            inner.append(leaf)

    def _save(self, run: crawls.CrawlRun, piece: Slice, page: int, result: SearchPage) -> Slice:
        records = [details.repo_record(item) for item in result.items]
        updated = replace(
            piece,
            total_count=result.total_count,
            pages_done=page,
            repos_found=piece.repos_found + len(records),
        )
        finished = page >= updated.last_page or len(result.items) == 0
        status = "done" if finished else "pending"
        if result.incomplete:
            # GitHub timed out on this page past every retry: keep what came, leave the slice
            # open so that the run reports partial and the next run fetches it again.
            status = crawls.INCOMPLETE
        updated = replace(updated, status=status)
        crawls.save_page(
            self.con, run.id, updated, records,
            seen_at=run.started_at, observed_at=details.now_utc(),
            requests=self._unsaved_requests(),
        )
        self.display.page_saved(updated.label, page, max(updated.last_page, 1), len(records))
        return updated

    # ------------------------------------------------------------------ details

    def _tick(self) -> None:
        _check(self.stop)
        self.display.advance()
        self.display.rate(self.client.limiter.remaining())

    def _details(self, run: crawls.CrawlRun, readme: bool, star_history: bool) -> None:
        unseen = crawls.unseen_active(self.con, run.id)
        if unseen:
            self.display.phase("unseen repositories", len(unseen))
            details.check_unseen(self.client, self.con, run, self.settings.min_stars, self._tick)
        if readme:
            todo = crawls.readme_candidates(self.con, run.id)
            self.display.phase("READMEs", len(todo))
            self.readmes_changed = details.fetch_readmes(self.client, self.con, run, self._tick)
        if star_history:
            todo_history = crawls.history_candidates(self.con, run.id, self.settings.min_stars)
            self.display.phase("star history", len(todo_history))
            self.star_dates = details.fetch_star_history(
                self.client, self.con, run, self.settings.min_stars, self._tick
            )
        self._flush_requests(run)
