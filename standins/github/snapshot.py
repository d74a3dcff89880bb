"""The snapshot file: a TSV of repositories that the replay server serves as if it were GitHub.

Header (tab-separated, this order when written)::

    full_name stars stars_as_of forks language created_at pushed_at license topics description

plus the optional columns ``id`` (GitHub's numeric id; derived from the full_name when absent) and
``archived`` (``true``/``false``). Dates are ``YYYY-MM-DD``; ``topics`` is comma-separated. Every
cell may be empty except ``full_name``, ``stars`` and ``created_at``.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from stackatlas.errors import SnapshotError

COLUMNS: tuple[str, ...] = (
    "full_name",
    "stars",
    "stars_as_of",
    "forks",
    "language",
    "created_at",
    "pushed_at",
    "license",
    "topics",
    "description",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("id", "archived")
REQUIRED_CELLS: frozenset[str] = frozenset({"full_name", "stars", "created_at"})

_FULL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_ID = 2**53


def derive_repo_id(full_name: str) -> int:
    """A stable id for a repository without a GitHub id: the first 6 bytes of sha256 (< 2**48)."""
    digest = hashlib.sha256(full_name.lower().encode()).digest()
    return int.from_bytes(digest[:6], "big") or 1


@dataclass(frozen=True)
class SnapshotRepo:
    """One repository as a snapshot records it."""

    full_name: str
    stars: int
    created_at: date
    stars_as_of: date | None = None
    forks: int | None = None
    language: str | None = None
    pushed_at: date | None = None
    license: str | None = None
    topics: tuple[str, ...] = ()
    description: str | None = None
    archived: bool = False
    id: int = 0  # 0 means "derive from full_name"

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", derive_repo_id(self.full_name))

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]

    @property
    def last_seen(self) -> date:
        """The date the figures refer to: stars_as_of, else pushed_at, else created_at."""
        return self.stars_as_of or self.pushed_at or self.created_at


@dataclass
class Snapshot:
    """Repositories indexed by id and by lower-cased full_name."""

    repos: list[SnapshotRepo] = field(default_factory=list)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        self.by_id: dict[int, SnapshotRepo] = {}
        self.by_name: dict[str, SnapshotRepo] = {}
        for repo in self.repos:
            key = repo.full_name.lower()
            if key in self.by_name:
                raise SnapshotError(
                    f"{self.source}: duplicate full_name {repo.full_name!r}",
                    "each repository may appear once; remove the duplicate",
                )
            if repo.id in self.by_id:
                raise SnapshotError(
                    f"{self.source}: duplicate id {repo.id} ({repo.full_name!r})",
                    "each repository id may appear once; fix the id column",
                )
            self.by_id[repo.id] = repo
            self.by_name[key] = repo

    def __len__(self) -> int:
        return len(self.repos)

    def __iter__(self) -> Iterator[SnapshotRepo]:
        return iter(self.repos)

    def get(self, full_name: str) -> SnapshotRepo | None:
        return self.by_name.get(full_name.lower())

    def get_by_id(self, repo_id: int) -> SnapshotRepo | None:
        return self.by_id.get(repo_id)


# ---------------------------------------------------------------------------------------- reading


class _Line:
    """Parses the cells of one TSV line, raising SnapshotError that names file, line and value."""

    def __init__(self, path: Path, number: int, cells: dict[str, str]) -> None:
        self.path, self.number, self.cells = path, number, cells

    def fail(self, what: str, value: str, hint: str) -> SnapshotError:
        return SnapshotError(f"{self.path}, line {self.number}: {what} {value!r}", hint)

    def text(self, column: str) -> str | None:
        value = self.cells.get(column, "").strip()
        if not value and column in REQUIRED_CELLS:
            raise self.fail(f"empty {column}", value, f"{column} is required on every line")
        return value or None

    def integer(self, column: str) -> int | None:
        value = self.text(column)
        if value is None:
            return None
        if not value.isdigit():
            raise self.fail(f"bad {column}", value, f"{column} must be a non-negative whole number")
        return int(value)

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(f"bad {column} date", value, "dates must be YYYY-MM-DD") from None

    def full_name(self) -> str:
        value = self.text("full_name") or ""
        if not _FULL_NAME.fullmatch(value):
            raise self.fail("bad full_name", value, "full_name must look like owner/name")
        return value

    def flag(self, column: str) -> bool:
        value = (self.text(column) or "false").lower()
        if value not in ("true", "false"):
            raise self.fail(f"bad {column}", value, f"{column} must be true or false")
        return value == "true"

    def repo_id(self) -> int:
        repo_id = self.integer("id")
        if repo_id is not None and not 0 < repo_id < _MAX_ID:
            raise self.fail("bad id", str(repo_id), "id must be between 1 and 2**53")
        return repo_id or 0

    def to_repo(self) -> SnapshotRepo:
        topics = self.text("topics")
        return SnapshotRepo(
            full_name=self.full_name(),
            stars=self.integer("stars") or 0,
            created_at=self.day("created_at"),  # type: ignore[arg-type]  # required, never None
            stars_as_of=self.day("stars_as_of"),
            forks=self.integer("forks"),
            language=self.text("language"),
            pushed_at=self.day("pushed_at"),
            license=self.text("license"),
            topics=tuple(t.strip() for t in topics.split(",") if t.strip()) if topics else (),
            description=self.text("description"),
            archived=self.flag("archived"),
            id=self.repo_id(),
        )


def _check_header(path: Path, header: list[str]) -> None:
    names = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [c for c in names if c not in COLUMNS and c not in OPTIONAL_COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        raise SnapshotError(
            f"{path}, line 1: wrong header {' '.join(names)!r}"
            f" (missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})",
            "the first line must name the columns "
            + ", ".join(COLUMNS)
            + " (tab-separated), optionally plus id and archived",
        )


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            for cells in reader:
                if cells and any(c.strip() for c in cells):
                    yield reader.line_num, cells
    except FileNotFoundError:
        raise SnapshotError(
            f"snapshot file {path} not found", "check the path, or write one with write_snapshot"
        ) from None
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{path}: not UTF-8 text ({exc})", "save the file as UTF-8") from None
    except IsADirectoryError:
        raise SnapshotError(f"snapshot path {path} is a directory", "pass a .tsv file") from None


def load_snapshot(path: str | Path) -> Snapshot:
    """Read a snapshot TSV; raise SnapshotError naming the file, line and bad value."""
    path = Path(path)
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise SnapshotError(f"{path}, line 1: empty file", "the file needs a header line")
    header = [h.strip() for h in first[1]]
    _check_header(path, header)
    repos: list[SnapshotRepo] = []
    seen: dict[str, int] = {}
    for number, cells in rows:
        line = _Line(path, number, dict(zip(header, cells, strict=False)))
        if len(cells) != len(header):
            raise line.fail(
                f"{len(cells)} columns instead of {len(header)} in line",
                "\t".join(cells)[:80],
                "every line needs one tab-separated cell per header column",
            )
        repo = line.to_repo()
        key = repo.full_name.lower()
        if key in seen:
            raise line.fail(
                f"duplicate full_name (first on line {seen[key]})",
                repo.full_name,
                "each repository may appear once; remove one of the lines",
            )
        seen[key] = number
        repos.append(repo)
    return Snapshot(repos, source=str(path))


# ---------------------------------------------------------------------------------------- writing


def _clean(text: str | None) -> str:
    """Tabs and line breaks would break the TSV: fold them into spaces."""
    return " ".join((text or "").split()) if text else ""


def _cells(repo: SnapshotRepo) -> list[str]:
    def day(value: date | None) -> str:
        return value.isoformat() if value else ""

    return [
        repo.full_name,
        str(repo.stars),
        day(repo.stars_as_of),
        "" if repo.forks is None else str(repo.forks),
        _clean(repo.language),
        day(repo.created_at),
        day(repo.pushed_at),
        _clean(repo.license),
        ",".join(_clean(t) for t in repo.topics),
        _clean(repo.description),
    ]


def write_snapshot(repos: Iterable[SnapshotRepo], path: str | Path) -> Path:
    """Write repos as a snapshot TSV; the id/archived columns only when some repo needs them."""
    path = Path(path)
    repos = list(repos)
    with_id = any(r.id != derive_repo_id(r.full_name) for r in repos)
    with_archived = any(r.archived for r in repos)
    header = list(COLUMNS) + (["id"] if with_id else []) + (["archived"] if with_archived else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(header)]
    for repo in repos:
        extra = ([str(repo.id)] if with_id else []) + (
            ["true" if repo.archived else "false"] if with_archived else []
        )
        lines.append("\t".join(_cells(repo) + extra))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
