"""Classifying the warehouse: reclassification, history, and human overrides that survive both."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from classifier.overrides import InvalidLabelError, set_human_label
from classifier.service import classify_repositories, training_labels
from stackatlas.errors import NotFoundError
from stackatlas.settings import Settings
from tests.factories import add_repositories, make_repo
from warehouse.labels import current_label, label_as_of, label_history
from warehouse.repos import RepoRecord, save_readme

T1, T2, T3, T4 = (datetime(2026, 11, day, 12) for day in (1, 2, 3, 4))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def seeded(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    add_repositories(
        con,
        [
            make_repo(1, "acme/llm-chat-ui", created=date(2023, 4, 1),
                      description="A chat UI for large language models, with plugins"),
            make_repo(2, "acme/fast-web", created=date(2019, 2, 1),
                      description="A fast web framework for building HTTP APIs in Go",
                      language="Go"),
            make_repo(3, "acme/vector-store", created=date(2022, 8, 1),
                      description="A vector database for embeddings and similarity search"),
        ],
    )
    return con


def methods(con: duckdb.DuckDBPyConnection, repo_id: int) -> list[str]:
    return [row["method"] for row in label_history(con, repo_id)]


def test_every_repository_gets_one_label_and_a_rerun_adds_none(
    seeded: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    first = classify_repositories(seeded, settings, at=T1)
    assert first.labelled == 3 and first.retrained
    second = classify_repositories(seeded, settings, at=T2)
    assert second.candidates == 0 and not second.retrained
    assert all(len(label_history(seeded, repo_id)) == 1 for repo_id in (1, 2, 3))
    label = current_label(seeded, 1)
    assert label is not None and label["rationale"] and label["model_version"]
    assert 0.0 <= label["confidence"] <= 1.0


def test_a_text_change_reclassifies_and_keeps_the_history(
    seeded: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    classify_repositories(seeded, settings, at=T1)
    save_readme(seeded, 2, "Now an LLM agent framework with tool calling.", '"etag-2"')
    result = classify_repositories(seeded, settings, at=T2)
    assert result.candidates == 1
    history = label_history(seeded, 2)
    assert len(history) == 2
    assert history[0]["text_hash"] != history[1]["text_hash"]
    earlier = label_as_of(seeded, 2, T1)
    assert earlier is not None and earlier["id"] == history[0]["id"]


def test_human_override_wins_survives_retraining_and_becomes_training_data(
    seeded: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    classify_repositories(seeded, settings, at=T1)
    set_human_label(seeded, "acme/fast-web", "infrastructure", "serving", "checked by hand", at=T2)

    assert any(label.full_name == "acme/fast-web" and label.category == "infrastructure"
               for label in training_labels(seeded))
    retrained = classify_repositories(seeded, settings, retrain=True, at=T3)
    assert retrained.retrained and retrained.candidates == 3

    label = current_label(seeded, 2)
    assert label is not None
    assert (label["method"], label["category"], label["note"]) == (
        "human", "infrastructure", "checked by hand")
    assert methods(seeded, 2) == ["model", "human", "model"]
    before = label_as_of(seeded, 2, T1)
    assert before is not None and before["method"] == "model"


def test_a_new_human_label_changes_the_training_set_so_the_model_is_retrained(
    seeded: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    first = classify_repositories(seeded, settings, at=T1)
    set_human_label(seeded, "acme/vector-store", "infrastructure", at=T2)
    second = classify_repositories(seeded, settings, at=T3)
    assert second.retrained and second.model_version != first.model_version


def test_override_errors_are_clear(seeded: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InvalidLabelError, match="unknown category") as bad:
        set_human_label(seeded, "acme/fast-web", "frameworks")
    assert "app-development" in bad.value.hint
    with pytest.raises(NotFoundError, match="not in the warehouse"):
        set_human_label(seeded, "nobody/nothing", "other")


def _web(ids: range) -> list[RepoRecord]:
    return [make_repo(i, f"web/framework-{i}", created=date(2020, 1, 1), language="Go",
                      description=f"HTTP router and web framework number {i} for REST services")
            for i in ids]


def _agents(ids: range) -> list[RepoRecord]:
    return [make_repo(i, f"ai/agent-{i}", created=date(2024, 1, 1),
                      description=f"LLM agent framework {i} with tools, memory and RAG")
            for i in ids]


def test_the_run_records_the_ai_share_of_the_whole_warehouse(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    add_repositories(con, _web(range(1, 91)) + _agents(range(91, 121)))
    result = classify_repositories(con, settings, at=T1)
    assert result.ai_prior is not None and 0.1 < result.ai_prior < 0.5  # 30 of 120 are AI
    assert f"AI share {result.ai_prior:.0%}" in result.summary_line()
    (stored,) = con.execute("SELECT ai_prior FROM classification_runs").fetchone()
    assert stored == pytest.approx(result.ai_prior)


def test_a_moved_ai_share_relabels_every_repository_and_a_steady_one_only_the_new(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    add_repositories(con, _web(range(1, 91)) + _agents(range(91, 121)))
    first = classify_repositories(con, settings, at=T1)
    add_repositories(con, _web(range(121, 123)))  # 2 more: the share barely moves
    steady = classify_repositories(con, settings, at=T2)
    assert steady.candidates == 2 and not steady.share_moved
    add_repositories(con, _agents(range(123, 323)))  # 200 more AI repositories: mostly AI now
    moved = classify_repositories(con, settings, at=T3)
    assert moved.share_moved and moved.share_moved_from == pytest.approx(steady.ai_prior)
    assert moved.ai_prior is not None and first.ai_prior is not None
    assert moved.ai_prior > first.ai_prior + 0.3
    assert moved.candidates == moved.labelled == 322
    assert "every repository relabelled" in moved.summary_line()
    assert len(label_history(con, 1)) == 2  # relabelled, the first label kept in the history


def test_a_small_warehouse_assumes_the_training_share(
    seeded: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    result = classify_repositories(seeded, settings, at=T1)
    assert result.ai_prior is None and "AI share not estimated" in result.summary_line()
