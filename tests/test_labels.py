"""Labels files: parsing, clear errors, and the validity of the bundled seed labels."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from classifier import taxonomy
from classifier.labels import (
    SEED_SOURCE,
    LabeledRepo,
    RepoText,
    load_seed_labels,
    read_labels,
    read_labels_files,
    write_labels,
)
from classifier.overlap import NEAR_COPY_JACCARD, identity_keys, near_copies, same_repository
from stackatlas.errors import LabelsFileError

HEADER = (
    "full_name\tdescription\tlanguage\ttopics\tstars\tcreated_at\tlayer\tcategory\t"
    "subcategory\tlabel_source\n"
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "labels.tsv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_reads_rows_and_tolerates_missing_optional_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "a/b\tA \"quoted\" tool\tPython\tllm,rag\t1234\t2023-01-02\t"
                            "application\tapp-development\tAgent\tx\n")
    (label,) = read_labels(path)
    assert label.full_name == "a/b" and label.topics == ["llm", "rag"] and label.stars == 1234
    assert label.description == 'A "quoted" tool' and label.layer == "application"
    short = _write(tmp_path, "c/d\tother\textra\n", header="full_name\tcategory\tnotes\n")
    (row,) = read_labels(short)
    assert (row.layer, row.category, row.stars, row.topics) == ("none", "other", None, [])


def test_unknown_category_names_file_line_and_allowed_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "a/b\td\t\t\t\t\tapplication\tapplications\t\t\n"
                            "c/d\td\t\t\t\t\tmodel\trobots\t\t\n")
    with pytest.raises(LabelsFileError) as error:
        read_labels(path)
    assert str(path) in error.value.message and "line 3" in error.value.message
    assert "robots" in error.value.message
    assert "model-development" in error.value.hint and "other" in error.value.hint


def test_inconsistent_layer_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "a/b\td\t\t\t\t\tmodel\tinfrastructure\t\t\n")
    with pytest.raises(LabelsFileError) as error:
        read_labels(path)
    assert "line 2" in error.value.message and "'infrastructure'" in error.value.hint
    assert "application, model, infrastructure, none" in error.value.hint


@pytest.mark.parametrize(
    ("body", "header", "fragment"),
    [
        ("a/b\tx\n", "full_name\tdescription\n", "missing column(s) category"),
        ("nothing-here\td\t\t\t\t\tnone\tother\t\t\n", HEADER, "not owner/name"),
        ("a/b\td\t\t\tmany\t\tnone\tother\t\t\n", HEADER, "stars 'many'"),
        ("a/b\td\t\t\t\t\tnone\tother\t\t\textra\n", HEADER, "11 fields"),
    ],
)
def test_malformed_files(tmp_path: Path, body: str, header: str, fragment: str) -> None:
    path = _write(tmp_path, body, header)
    with pytest.raises(LabelsFileError, match="line") as error:
        read_labels(path)
    assert fragment in error.value.message and str(path) in error.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LabelsFileError, match="cannot read"):
        read_labels(tmp_path / "nope.tsv")


def test_write_then_read_round_trip_and_later_files_win(tmp_path: Path) -> None:
    first = LabeledRepo(full_name="o/r", description="tab\there", topics=["a"], stars=5,
                        created_at="2020-01-01", layer="model", category="models",
                        subcategory="vision", source="test")
    write_labels(tmp_path / "one.tsv", [first])
    write_labels(tmp_path / "two.tsv", [LabeledRepo(full_name="O/R", layer="none",
                                                    category="other")])
    assert read_labels(tmp_path / "one.tsv")[0].description == "tab here"
    (merged,) = read_labels_files([tmp_path / "one.tsv", tmp_path / "two.tsv"])
    assert merged.category == "other"


def test_seed_labels_are_valid_and_realistic() -> None:
    seeds = load_seed_labels()
    assert 1500 <= len(seeds) <= 3000
    counts = Counter(label.category for label in seeds)
    assert set(counts) == set(taxonomy.CATEGORIES)
    assert counts["other"] / len(seeds) >= 0.30
    assert {label.source for label in seeds} == {SEED_SOURCE}
    names = [label.full_name.lower() for label in seeds]
    assert len(names) == len(set(names))
    assert all(label.description for label in seeds)
    for label in seeds:
        if label.subcategory:
            assert label.subcategory in taxonomy.CATEGORIES[label.category].subcategories


def _reference() -> tuple[list[LabeledRepo], list[RepoText]]:
    """The labelled reference rows, and every reference description (snapshot included)."""
    labelled = [SHARED_DATA / "labels_dev.tsv", SHARED_DATA / "ai_or_not_dev.tsv"]
    snapshot = SHARED_DATA / "repos_snapshot.tsv"
    if not all(path.exists() for path in [*labelled, snapshot]):
        pytest.skip("reference data not present")
    rows = read_labels_files(labelled)
    with snapshot.open(encoding="utf-8") as handle:
        described = [RepoText(row["full_name"], row["description"])
                     for row in csv.DictReader(handle, delimiter="\t")]
    return rows, [*rows, *described]


def test_seeds_name_no_repository_of_the_labelled_reference_files() -> None:
    """Not under the same name, nor under a former or later one (same name, another owner, or
    a known move)."""
    labelled, _ = _reference()
    theirs: dict[str, str] = {}
    for label in labelled:
        for key in identity_keys(label.full_name):
            theirs[key] = label.full_name
    renamed = {seed.full_name: theirs[key] for seed in load_seed_labels()
               for key in identity_keys(seed.full_name) if key in theirs}
    assert renamed == {}


def test_seed_descriptions_are_not_copied_from_reference_data() -> None:
    """Not verbatim, nor a near-copy (token Jaccard at least 0.7) of any reference description."""
    _, described = _reference()
    seeds = load_seed_labels()
    copies = near_copies([s.description for s in seeds], [r.description for r in described])
    assert NEAR_COPY_JACCARD == 0.7
    assert {seed.full_name: described[match].full_name
            for seed, match in zip(seeds, copies, strict=True) if match is not None} == {}


@pytest.mark.parametrize(("first", "second"), [
    ("jmorganca/ollama", "ollama/ollama"),
    ("ggerganov/llama.cpp", "ggml-org/llama.cpp"),
    ("google/jax", "jax-ml/jax"),
    ("Significant-Gravitas/Auto-GPT", "Significant-Gravitas/AutoGPT"),
    ("cpacker/MemGPT", "letta-ai/letta"),  # a known move: the name changed too
    ("OpenDevin/OpenDevin", "OpenHands/OpenHands"),
])
def test_renames_and_moves_are_the_same_repository(first: str, second: str) -> None:
    assert same_repository(first, second) and same_repository(second, first)


def test_different_repositories_are_not_the_same() -> None:
    assert not same_repository("ollama/ollama", "ollama/ollama-python")
    assert not same_repository("cpacker/MemGPT", "openai/gpt-2")


def test_near_copies_by_token_jaccard() -> None:
    theirs = ["Get up and running with Llama 2, Mistral, and other large language models.",
              "A fast web framework for Go"]
    ours = ["Get up and running with Llama 3, Mistral and other large language models",
            "Run open language models on your own machine with one command",
            ""]
    assert near_copies(ours, theirs) == [0, None, None]
