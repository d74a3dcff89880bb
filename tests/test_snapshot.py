"""Snapshot TSV: loading, writing, and errors that name the file, the line and the bad value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from stackatlas.errors import SnapshotError
from standins.github.snapshot import (
    COLUMNS,
    Snapshot,
    SnapshotRepo,
    derive_repo_id,
    load_snapshot,
    write_snapshot,
)

HEADER = "\t".join(COLUMNS)
GOOD = "acme/rocket\t1200\t2026-08-01\t30\tPython\t2023-03-16\t2026-07-30\tMIT\tllm,rag\tA rocket"
SHARED_SNAPSHOT = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / ("repos_snapshot.tsv")
)


def write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "snap.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_a_good_file(tmp_path: Path) -> None:
    empty_cells = "bare/repo\t600\t\t\t\t2019-01-02\t\t\t\t"
    snapshot = load_snapshot(write_lines(tmp_path, HEADER, GOOD, empty_cells))
    assert len(snapshot) == 2
    rocket = snapshot.get("ACME/Rocket")
    assert rocket is not None
    assert rocket.stars == 1200 and rocket.forks == 30 and rocket.topics == ("llm", "rag")
    assert rocket.created_at == date(2023, 3, 16) and rocket.license == "MIT"
    assert snapshot.get_by_id(rocket.id) is rocket
    bare = snapshot.get("bare/repo")
    assert bare is not None
    assert bare.forks is None and bare.description is None and bare.topics == ()
    assert bare.last_seen == date(2019, 1, 2)


def test_id_is_derived_stably_and_can_be_given(tmp_path: Path) -> None:
    assert derive_repo_id("Acme/Rocket") == derive_repo_id("acme/rocket") < 2**53
    path = write_lines(tmp_path, HEADER + "\tid", GOOD + "\t42")
    assert load_snapshot(path).get("acme/rocket").id == 42  # type: ignore[union-attr]


def test_round_trip(tmp_path: Path) -> None:
    repos = [
        SnapshotRepo(
            "a/b", 700, date(2020, 1, 1), description="tab\there\nnewline", topics=("x", "y")
        ),
        SnapshotRepo("c/d", 900, date(2021, 5, 6), id=7, archived=True, forks=0),
    ]
    path = write_snapshot(repos, tmp_path / "out.tsv")
    loaded = load_snapshot(path)
    assert loaded.get("a/b").description == "tab here newline"  # type: ignore[union-attr]
    assert loaded.get("c/d") == repos[1]
    assert loaded.get("a/b").topics == ("x", "y")  # type: ignore[union-attr]


def test_plain_write_keeps_the_ten_columns(tmp_path: Path) -> None:
    path = write_snapshot([SnapshotRepo("a/b", 700, date(2020, 1, 1))], tmp_path / "s.tsv")
    assert path.read_text().splitlines()[0] == HEADER


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as info:
        load_snapshot(tmp_path / "nope.tsv")
    assert "nope.tsv" in info.value.message and info.value.hint


@pytest.mark.parametrize(
    ("bad_line", "expected_value"),
    [
        (GOOD.replace("\t1200\t", "\t12k\t"), "12k"),
        (GOOD.replace("2023-03-16", "16/03/2023"), "16/03/2023"),
        (GOOD.replace("2023-03-16", "2023-02-30"), "2023-02-30"),
        (GOOD.replace("acme/rocket", "rocket"), "rocket"),
        (GOOD.replace("acme/rocket", "a/b/c"), "a/b/c"),
        (GOOD.replace("\t1200\t", "\t\t"), "stars"),
        (GOOD.rsplit("\t", 1)[0], "9 columns"),
        (GOOD.replace("acme/rocket", "ACME/rocket"), "ACME/rocket"),
    ],
)
def test_bad_line_names_file_line_and_value(
    tmp_path: Path, bad_line: str, expected_value: str
) -> None:
    path = write_lines(tmp_path, HEADER, GOOD, bad_line)
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path)
    assert str(path) in info.value.message
    assert "line 3" in info.value.message
    assert expected_value in info.value.message
    assert info.value.hint


def test_duplicate_mentions_first_line(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="first on line 2"):
        load_snapshot(write_lines(tmp_path, HEADER, GOOD, GOOD))


def test_wrong_header(tmp_path: Path) -> None:
    path = write_lines(tmp_path, HEADER.replace("stars", "stargazers"), GOOD)
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path)
    assert "line 1" in info.value.message and "stargazers" in info.value.message
    assert "full_name" in info.value.hint


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tsv"
    path.write_text("")
    with pytest.raises(SnapshotError, match="empty"):
        load_snapshot(path)


def test_snapshot_rejects_duplicates_in_memory() -> None:
    repo = SnapshotRepo("a/b", 700, date(2020, 1, 1))
    with pytest.raises(SnapshotError):
        Snapshot([repo, SnapshotRepo("A/B", 800, date(2020, 1, 1))])


@pytest.mark.skipif(not SHARED_SNAPSHOT.exists(), reason="shared reference data not present")
def test_reads_the_shared_reference_snapshot() -> None:
    snapshot = load_snapshot(SHARED_SNAPSHOT)
    assert len(snapshot) > 1000
    assert all(repo.stars >= 500 for repo in snapshot)
