"""Details after discovery: unseen repositories, README excerpts and star history.

Each step reads what is left to do from the warehouse, so a resumed run picks up where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from collector.github import GitHubClient
from warehouse import crawls
from warehouse.repos import (
    BELOW_THRESHOLD,
    VANISHED,
    RepoRecord,
    record_observations,
    save_readme,
    set_status,
    upsert_repositories,
)

log = logging.getLogger(__name__)

README_EXCERPT_CHARS = 2000
HISTORY_SOURCE = "stargazers_history"
UNKNOWN_SOURCE = "unknown"
MAX_HISTORY_PAGES = 60
Tick = Callable[[], None]


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def repo_record(item: dict[str, Any]) -> RepoRecord:
    """A search item or repository answer as the warehouse stores it."""
    license_info = item.get("license") or {}
    spdx = license_info.get("spdx_id")
    return RepoRecord(
        id=int(item["id"]),
        full_name=item["full_name"],
        description=item.get("description"),
        language=item.get("language"),
        license=spdx if spdx and spdx != "NOASSERTION" else license_info.get("name"),
        topics=list(item.get("topics") or []),
        homepage=item.get("homepage") or None,
        created_at=_timestamp(item.get("created_at")),
        pushed_at=_timestamp(item.get("pushed_at")),
        archived=bool(item.get("archived", False)),
        stars=int(item.get("stargazers_count") or 0),
        forks=item.get("forks_count"),
    )


# ---------------------------------------------------------------------------------- unseen


def check_unseen(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    run: crawls.CrawlRun,
    min_stars: int,
    tick: Tick | None = None,
) -> None:
    """Ask GitHub about every active repository the searches did not return.

    Gone (404/410/451): marked vanished. Below the threshold: updated and marked. Renamed: the
    redirect is followed and the row updated in place by id. Nothing is ever deleted.
    """
    for repo_id, full_name in crawls.unseen_active(con, run.id):
        item = client.get_repository(full_name)
        at = now_utc()
        with crawls.transaction(con):
            if item is None or int(item["id"]) != repo_id:
                log.info("%s has vanished", full_name)
                set_status(con, [repo_id], VANISHED, at)
            else:
                record = repo_record(item)
                upsert_repositories(con, [record], run.started_at)
                record_observations(con, run.id, [record], at)
                if record.stars < min_stars:
                    set_status(con, [repo_id], BELOW_THRESHOLD, at)
        if tick:
            tick()


# ---------------------------------------------------------------------------------- READMEs


def readme_excerpt(text: str | None, limit: int = README_EXCERPT_CHARS) -> str | None:
    """The start of a README with runs of blank space folded, for the classifier to read."""
    if not text:
        return None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    folded = "\n".join(line for line in lines if line)
    return folded[:limit] or None


def fetch_readmes(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    run: crawls.CrawlRun,
    tick: Tick | None = None,
) -> int:
    """README excerpts of repositories new or pushed since their last check; returns changes."""
    return revalidate_readmes(client, con, crawls.readme_candidates(con, run.id), tick)


def revalidate_readmes(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    candidates: Iterable[tuple[int, str, str | None]],
    tick: Tick | None = None,
) -> int:
    """Ask for each (id, full_name, etag) README with its ETag (a 304 is free); returns changes.

    Each answer is saved with its check time in one transaction, so a killed pass resumes with
    the repositories not yet checked.
    """
    changed = 0
    for repo_id, full_name, etag in candidates:
        answer = client.get_readme(full_name, etag)
        with crawls.transaction(con):
            if answer.changed:
                save_readme(con, repo_id, readme_excerpt(answer.text), answer.etag)
                changed += answer.text is not None
            crawls.mark_readme_checked(con, repo_id, now_utc())
        if tick:
            tick()
    return changed


# ---------------------------------------------------------------------------------- star history


def crossing_date(
    weeks: Iterable[dict[str, Any]], current_stars: int, threshold: int
) -> tuple[date | None, bool]:
    """When the count first reached ``threshold``, walking weekly counts back from today.

    Returns (date, settled): settled is False when the weeks ran out before the crossing.
    Each week is ``{"week": Sunday, "stars": n, "days": [Sunday..Saturday]}``, newest first.
    """
    total = current_stars
    for week in weeks:
        gained = int(week.get("stars", week.get("count", 0)) or 0)
        before = total - gained
        if before < threshold <= total:
            return _crossing_day(week, before, threshold), True
        total = before
        if total < threshold:
            return None, True
    return None, False


def _crossing_day(week: dict[str, Any], before: int, threshold: int) -> date:
    sunday = date.fromisoformat(str(week["week"])[:10])
    running = before
    for offset, count in enumerate(week.get("days") or []):
        running += int(count)
        if running >= threshold:
            return sunday + timedelta(days=offset)
    return sunday


def fetch_star_history(
    client: GitHubClient,
    con: duckdb.DuckDBPyConnection,
    run: crawls.CrawlRun,
    threshold: int,
    tick: Tick | None = None,
) -> int:
    """The date each repository crossed ``threshold``; 'unknown' where GitHub cannot say."""
    found = 0
    for repo_id, full_name, stars in crawls.history_candidates(con, run.id, threshold):
        crossed = _history_of(client, full_name, stars, threshold)
        source = HISTORY_SOURCE if crossed else UNKNOWN_SOURCE
        crawls.save_milestone(con, repo_id, threshold, crossed, source, now_utc())
        found += crossed is not None
        if tick:
            tick()
    return found


def _history_of(client: GitHubClient, full_name: str, stars: int, threshold: int) -> date | None:
    collected: list[dict[str, Any]] = []
    for page in range(1, MAX_HISTORY_PAGES + 1):
        weeks = client.star_history_page(full_name, page)
        if weeks is None:
            return None
        collected.extend(weeks)
        crossed, settled = crossing_date(collected, stars, threshold)
        if settled or not weeks:
            return crossed
    return None
