"""Labels files (TSV) and the two records every classifier stage uses: RepoText and LabeledRepo.

Format (header row, tab-separated, no quoting): full_name, description, language, topics
(comma-separated), stars, created_at, layer, category, subcategory, label_source. Only
``full_name`` and ``category`` are required; ``layer`` is derived when absent and checked when
present; unknown extra columns (for example ``readme``, used when present) are ignored.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from classifier import taxonomy
from stackatlas.errors import LabelsFileError

SEED_LABELS_PATH = Path(__file__).with_name("seed_labels.tsv")
SEED_SOURCE = "stackatlas-seed"
COLUMNS: tuple[str, ...] = (
    "full_name", "description", "language", "topics", "stars", "created_at",
    "layer", "category", "subcategory", "label_source",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("full_name", "category")

csv.field_size_limit(sys.maxsize)


@dataclass(frozen=True)
class RepoText:
    """What a classifier reads about one repository."""

    full_name: str
    description: str = ""
    language: str = ""
    topics: list[str] = field(default_factory=list)
    readme: str = ""
    stars: int | None = None
    created_at: str | None = None

    @property
    def owner(self) -> str:
        return self.full_name.partition("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.partition("/")[2] or self.full_name


@dataclass(frozen=True, kw_only=True)
class LabeledRepo(RepoText):
    """A repository with a reference label."""

    layer: str
    category: str
    subcategory: str = ""
    source: str = ""

    def as_text(self) -> RepoText:
        return RepoText(
            full_name=self.full_name, description=self.description, language=self.language,
            topics=list(self.topics), readme=self.readme, stars=self.stars,
            created_at=self.created_at,
        )


def _error(path: Path, line: int, problem: str, hint: str) -> LabelsFileError:
    return LabelsFileError(f"{path}, line {line}: {problem}", hint)


def _parse_stars(value: str, path: Path, line: int) -> int | None:
    value = value.strip().replace(",", "")
    if not value:
        return None
    try:
        return int(float(value))
    except ValueError:
        raise _error(path, line, f"stars {value!r} is not a number",
                     "write a whole number or leave the field empty") from None


def _check_label(category: str, layer: str, path: Path, line: int) -> str:
    if category not in taxonomy.CATEGORIES:
        raise _error(path, line, f"unknown category {category!r}",
                     f"use one of: {', '.join(taxonomy.CATEGORIES)}")
    expected = taxonomy.layer_of(category)
    if layer and layer != expected:
        raise _error(path, line, f"layer {layer!r} does not match category {category!r}",
                     f"category {category!r} belongs to layer {expected!r}; layers are: "
                     f"{', '.join(taxonomy.LAYERS)}")
    return expected


def _row_to_label(row: dict[str, str], path: Path, line: int) -> LabeledRepo:
    def get(column: str) -> str:
        return (row.get(column) or "").strip()

    full_name = get("full_name")
    if "/" not in full_name:
        raise _error(path, line, f"full_name {full_name!r} is not owner/name",
                     "write the repository as owner/name")
    category = get("category").lower()
    layer = _check_label(category, get("layer").lower(), path, line)
    return LabeledRepo(
        full_name=full_name,
        description=get("description"),
        language=get("language"),
        topics=[t.strip() for t in get("topics").split(",") if t.strip()],
        readme=get("readme"),
        stars=_parse_stars(get("stars"), path, line),
        created_at=get("created_at")[:10] or None,
        layer=layer,
        category=category,
        subcategory=get("subcategory"),
        source=get("label_source"),
    )


def _check_header(header: Sequence[str], path: Path) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise _error(path, 1, f"missing column(s) {', '.join(missing)}",
                     f"the header must name at least {', '.join(REQUIRED_COLUMNS)}; "
                     f"known columns: {', '.join(COLUMNS)}")


def read_labels(path: Path | str) -> list[LabeledRepo]:
    """Read one labels file; LabelsFileError names the file, the line and the allowed values."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return _parse_labels(handle, path)
    except UnicodeDecodeError:
        raise LabelsFileError(f"labels file {path} is not UTF-8 text",
                              "save it as UTF-8 (tab-separated, with a header)") from None
    except OSError as exc:
        raise LabelsFileError(f"cannot read labels file {path}: {exc.strerror}",
                              "check the path: a labels file, not a folder") from None


def _parse_labels(handle: TextIO, path: Path) -> list[LabeledRepo]:
    reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [column.strip().lower() for column in next(reader, [])]
    _check_header(header, path)
    labels = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise _error(path, line, f"{len(row)} fields, the header has {len(header)}",
                         "separate fields with one tab and keep tabs out of descriptions")
        labels.append(_row_to_label(dict(zip(header, row, strict=False)), path, line))
    return labels


def read_labels_files(paths: Iterable[Path | str]) -> list[LabeledRepo]:
    """Read several labels files; a repository named again later replaces the earlier row."""
    by_name: dict[str, LabeledRepo] = {}
    for path in paths:
        for label in read_labels(path):
            by_name[label.full_name.lower()] = label
    return list(by_name.values())


def load_seed_labels() -> list[LabeledRepo]:
    """The labels written by the stackatlas developers, shipped with the package."""
    return read_labels(SEED_LABELS_PATH)


def write_labels(path: Path | str, labels: Iterable[LabeledRepo]) -> None:
    """Write labels in the labels-file format (tabs and newlines inside fields become spaces)."""
    def clean(value: object) -> str:
        return " ".join(str(value if value is not None else "").split())

    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(COLUMNS) + "\n")
        for label in labels:
            cells = (
                label.full_name, label.description, label.language, ",".join(label.topics),
                label.stars, label.created_at, label.layer, label.category, label.subcategory,
                label.source,
            )
            handle.write("\t".join(clean(cell) for cell in cells) + "\n")
