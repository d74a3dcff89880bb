"""Discovery: which search queries to run, and how to cut them into ``created:`` slices.

GitHub answers at most 1,000 results per query, so a larger query is cut into creation-date
slices of at most 1,000. Every probe of a slice is also its first page (per_page=100), so a probe
is wasted only when the slice turns out too big. Slices are found by a left-to-right sweep whose
window follows the density seen so far, and the next run starts from this run's slices.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import tomllib
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from stackatlas.errors import ConfigError
from warehouse.crawls import SliceRow

DEFAULT_QUERIES_FILE = Path(__file__).with_name("queries.toml")
SEARCH_CAP = 1000
PER_PAGE = 100
MAX_QUERY_CHARS = 256
MAX_OPERATORS = 5
SLICE_SUFFIX_CHARS = len(" created:2000-01-01..2000-01-01")

# Open ends of the creation-date range, stored as dates and sent as `*`.
OPEN_START = date(1970, 1, 1)
OPEN_END = date(9999, 12, 31)
GITHUB_EPOCH = date(2007, 10, 1)  # the oldest repositories on GitHub date from October 2007

SWEEP_TARGET = 850
"""Results aimed at per slice: room below 1,000 for the density to rise within a window."""
MERGE_TARGET = 930
"""Adjacent slices of the previous run are merged while their total stays below this."""
MAX_GROWTH = 4
"""A sweep window grows at most this many times from one slice to the next."""


# ---------------------------------------------------------------------------------- query sets


@dataclass(frozen=True)
class QuerySet:
    name: str
    version: int
    queries: tuple[str, ...]

    @property
    def label(self) -> str:
        digest = hashlib.sha256("\n".join(self.queries).encode()).hexdigest()[:8]
        return f"{self.name}@v{self.version}#{digest}"


def all_500_query_set(min_stars: int) -> QuerySet:
    """Every repository above the threshold; AI-or-not is left to the classifier."""
    return QuerySet("all", 1, (f"stars:>={min_stars}",))


def load_query_set(path: Path | None, min_stars: int) -> QuerySet:
    """Read a queries TOML file (default: the one shipped with the collector)."""
    path = path or DEFAULT_QUERIES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"queries file {path} not found", "check --queries") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"queries file {path} is not valid TOML: {exc}", "fix it") from None
    topics = _strings(data, "topics", path)
    keywords = _strings(data, "keywords", path)
    raw = _strings(data, "queries", path)
    if not (topics or keywords or raw):
        raise ConfigError(f"queries file {path} holds no queries", "add topics or keywords")
    version = data.get("version")
    if not isinstance(version, int):
        raise ConfigError(f"queries file {path} lacks an integer `version`", "add version = 1")
    queries = disjoint_queries(topics, keywords, min_stars)
    queries += [f"{q} stars:>={min_stars}" for q in raw]
    return QuerySet(str(data.get("name", path.stem)), version, tuple(dict.fromkeys(queries)))


def _strings(data: dict[str, object], key: str, path: Path) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"queries file {path}: `{key}` must be a list of strings", "fix it")
    return [v.strip() for v in value]


def _keyword_term(keyword: str) -> str:
    return f'"{keyword}"' if " " in keyword else keyword


def disjoint_queries(topics: list[str], keywords: list[str], min_stars: int) -> list[str]:
    """One query per topic, each excluding the topics before it, then the keywords OR-ed together
    (as few queries as GitHub's five-operator limit allows) excluding every topic.

    Every query ends on a partly filled page, so fewer queries cost fewer requests; the union of
    the results is the same as with one query per term, only the overlap is gone.
    """
    stars = f"stars:>={min_stars}"
    queries: list[str] = []
    for index, topic in enumerate(topics):
        base = f"topic:{topic}"
        exclusions = [f"-topic:{t}" for t in topics[:index]]
        queries.append(_with_exclusions(base, stars, exclusions))
    for group in _keyword_groups(keywords):
        base = " OR ".join(_keyword_term(k) for k in group)
        queries.append(_with_exclusions(base, stars, [f"-topic:{t}" for t in topics]))
    return queries


def _keyword_groups(keywords: list[str]) -> list[list[str]]:
    size = MAX_OPERATORS + 1
    return [keywords[i : i + size] for i in range(0, len(keywords), size)]


def _with_exclusions(base: str, stars: str, exclusions: list[str]) -> str:
    budget = MAX_QUERY_CHARS - SLICE_SUFFIX_CHARS
    parts = [base]
    for term in exclusions:
        if len(" ".join([*parts, term, stars])) <= budget:
            parts.append(term)
    return " ".join([*parts, stars])


# ---------------------------------------------------------------------------------- slices


@dataclass(frozen=True)
class Slice(SliceRow):
    """A query restricted to creation dates ``lo..hi`` (inclusive; open ends as sentinels)."""

    @classmethod
    def of(cls, row: SliceRow) -> Slice:
        """The slice a stored ``crawl_slices`` row stands for."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(SliceRow)})

    @property
    def search_query(self) -> str:
        return render_query(self.query, self.lo, self.hi)

    @property
    def label(self) -> str:
        lo = "*" if self.lo == OPEN_START else self.lo.isoformat()
        hi = "*" if self.hi == OPEN_END else self.hi.isoformat()
        return f"{self.query} [{lo}..{hi}]"

    def contains(self, other: Slice) -> bool:
        return self.lo <= other.lo and other.hi <= self.hi

    @property
    def last_page(self) -> int:
        return min(SEARCH_CAP // PER_PAGE, math.ceil((self.total_count or 0) / PER_PAGE))


def render_query(query: str, lo: date, hi: date) -> str:
    if lo == OPEN_START and hi == OPEN_END:
        return query
    if lo == OPEN_START:
        return f"{query} created:<={hi.isoformat()}"
    if hi == OPEN_END:
        return f"{query} created:>={lo.isoformat()}"
    return f"{query} created:{lo.isoformat()}..{hi.isoformat()}"


def today() -> date:
    return datetime.now(UTC).date()


def effective_range(lo: date, hi: date, now: date | None = None) -> tuple[date, date]:
    """The finite dates an open range stands for, for window arithmetic."""
    now = now or today()
    start = max(lo, GITHUB_EPOCH) if lo == OPEN_START else lo
    end = now if hi == OPEN_END else hi
    return start, max(start, end)


def days_in(lo: date, hi: date, now: date | None = None) -> int:
    start, end = effective_range(lo, hi, now)
    return (end - start).days + 1


def root_slice(query: str) -> Slice:
    return Slice(query, OPEN_START, OPEN_END)


def plan_from_previous(query: str, leaves: list[Slice]) -> list[Slice]:
    """Slices for this run from the previous run's finished slices, small neighbours merged.

    The previous leaves cover the whole range; their counts tell where to cut. A merged slice
    that has grown past 1,000 is split again by the sweep, at the cost of one probe.
    """
    ordered = sorted(leaves, key=lambda s: s.lo)
    if not ordered or ordered[0].lo != OPEN_START or ordered[-1].hi != OPEN_END:
        return [root_slice(query)]
    for before, after in itertools.pairwise(ordered):
        if before.hi + timedelta(days=1) != after.lo:
            return [root_slice(query)]  # a gap: do not trust this plan
    planned: list[Slice] = []
    lo, total = ordered[0].lo, 0
    for index, leaf in enumerate(ordered):
        count = leaf.total_count or 0
        if total and total + count > MERGE_TARGET:
            planned.append(Slice(query, lo, ordered[index - 1].hi))
            lo, total = leaf.lo, 0
        total += count
    planned.append(Slice(query, lo, OPEN_END))
    return planned


# ---------------------------------------------------------------------------------- the sweep


@dataclass
class Sweep:
    """The left-to-right search for slices inside a too-big slice ``outer``.

    ``density`` (results per day) comes from the latest probe; ``window`` is the last window.
    """

    outer: Slice
    density: float
    window: int
    now: date
    too_big: int | None = None

    @classmethod
    def start(cls, outer: Slice, inner: list[Slice], now: date | None = None) -> Sweep:
        """Resume knowledge from the slices already found inside ``outer`` (or its own count)."""
        now = now or today()
        done = sorted((s for s in inner if outer.contains(s)), key=lambda s: s.hi)
        if done:
            last = done[-1]
            days = days_in(last.lo, last.hi, now)
            return cls(outer, (last.total_count or 0) / days, days, now)
        days = days_in(outer.lo, outer.hi, now)
        window = max(1, days)
        return cls(outer, (outer.total_count or SEARCH_CAP) / days, window, now)

    def cursor(self, inner: list[Slice]) -> date | None:
        """The first date not covered yet; None when the sweep is complete."""
        ends = [s.hi for s in inner if self.outer.contains(s)]
        if not ends:
            return self.outer.lo
        last = max(ends)
        return None if last >= self.outer.hi else last + timedelta(days=1)

    def next_window(self, cursor: date) -> Slice:
        """The next slice to probe: as many days as should hold about SWEEP_TARGET results."""
        if self.density > 0:
            days = max(1, math.floor(SWEEP_TARGET / self.density))
        else:
            days = self.window * MAX_GROWTH
        days = min(days, self.window * MAX_GROWTH)
        if self.too_big is not None:
            days = min(days, max(1, self.too_big - 1))
        start, end = effective_range(cursor, self.outer.hi, self.now)
        left = (end - start).days + 1
        rest_fits = left * self.density <= SEARCH_CAP * 0.97 if self.density else left <= days
        if left <= days or (rest_fits and (self.too_big is None or left < self.too_big)):
            return Slice(self.outer.query, cursor, self.outer.hi)
        return Slice(self.outer.query, cursor, start + timedelta(days=days - 1))

    def learn(self, probe: Slice, total_count: int) -> None:
        """Update the density from a probe's count; a too-big probe bounds the next window."""
        days = days_in(probe.lo, probe.hi, self.now)
        self.density = total_count / days
        self.window = days
        self.too_big = days if total_count > SEARCH_CAP else None


def splittable(piece: Slice, now: date | None = None) -> bool:
    return days_in(piece.lo, piece.hi, now) > 1


def with_count(piece: Slice, total_count: int, status: str) -> Slice:
    return replace(piece, total_count=total_count, status=status)
