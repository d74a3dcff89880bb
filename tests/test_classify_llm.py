"""`classify` through the warehouse with the LLM stage (the fake OpenAI-compatible server):
unsure model labels go to the LLM on an --llm run, fallbacks are retried, answers are cached."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from classifier import prompts
from classifier.labels import load_seed_labels
from classifier.llm import FLAG_FALLBACK
from classifier.model import train_model
from classifier.service import classify_repositories, models_dir
from stackatlas.main import app
from stackatlas.settings import Settings, get_settings
from standins.fake_llm import FAKE_MODEL_ID, FakeLLMServer
from tests.factories import add_repositories, make_repo
from warehouse.db import connect
from warehouse.labels import current_label, label_history
from warehouse.repos import save_readme

pytestmark = pytest.mark.slow  # trains the seed model once and classifies a dozen times

T1, T2, T3, T4 = (datetime(2026, 11, day, 12) for day in (1, 2, 3, 4))
REPOS = [
    (1, "acme/llm-chat-ui", "A chat UI for large language models, with plugins"),
    (2, "acme/fast-web", "A fast web framework for building HTTP APIs in Go"),
    (3, "acme/vector-store", "A vector database for embeddings and similarity search"),
    (4, "acme/lora-kit", "Fine-tune open language models with LoRA adapters"),
]
IDS = [repo_id for repo_id, _, _ in REPOS]


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(mode="good") as running:
        yield running


@pytest.fixture
def server(fake_llm: FakeLLMServer) -> FakeLLMServer:
    fake_llm.reset()
    return fake_llm


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed model, trained once for the module (each test copies it into its data dir)."""
    directory = tmp_path_factory.mktemp("models")
    train_model(load_seed_labels()).save(directory)
    return directory


@pytest.fixture
def settings(tmp_path: Path, server: FakeLLMServer, trained: Path) -> Settings:
    # a threshold near 1 makes every model label "unsure", so every repository is a candidate
    settings = Settings(data_dir=tmp_path / "data", llm_url=server.url, llm_model=FAKE_MODEL_ID,
                        llm_threshold=0.999)
    shutil.copytree(trained, models_dir(settings))
    return settings


@pytest.fixture
def seeded(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    add_repositories(con, [make_repo(repo_id, name, created=date(2023, 4, 1),
                                     description=description)
                           for repo_id, name, description in REPOS])
    return con


def labels(con: duckdb.DuckDBPyConnection) -> dict[int, dict]:
    found = {repo_id: current_label(con, repo_id) for repo_id in IDS}
    assert all(label is not None for label in found.values())
    return found  # type: ignore[return-value]


def cached_answers(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM llm_cache").fetchone()[0])  # type: ignore[index]


def test_an_llm_run_after_a_plain_run_asks_about_the_unsure_labels(
    seeded: duckdb.DuckDBPyConnection, settings: Settings, server: FakeLLMServer
) -> None:
    plain = classify_repositories(seeded, settings, use_llm=False, at=T1)
    assert plain.labelled == 4 and not plain.retrained and server.requests == []
    assert all(label["method"] in {"model", "rules"} and label["flags"] is None
               for label in labels(seeded).values())

    llm = classify_repositories(seeded, settings, use_llm=True, at=T2)
    assert llm.candidates == 4 and llm.by_method == {"llm": 4}
    assert llm.llm_requests == 1 == len(server.requests) and llm.llm_tokens > 0
    for repo_id, label in labels(seeded).items():
        assert label["method"] == "llm" and label["flags"] is None
        assert label["prompt_version"] == prompts.PROMPT_VERSION
        assert label["model_version"] == FAKE_MODEL_ID
        assert label["rationale"].startswith("The fake server chose")
        assert [row["method"] for row in label_history(seeded, repo_id)][-1] == "llm"
    assert labels(seeded)[3]["category"] == "infrastructure"
    assert cached_answers(seeded) == 4
    run = seeded.execute("SELECT llm_requests, llm_tokens, llm_failures FROM classification_runs "
                         "ORDER BY id DESC LIMIT 1").fetchone()
    assert run == (1, llm.llm_tokens, 0)

    # answered: neither an --llm rerun nor a plain one has anything left to do
    assert classify_repositories(seeded, settings, use_llm=True, at=T3).candidates == 0
    assert classify_repositories(seeded, settings, use_llm=False, at=T3).candidates == 0
    assert len(server.requests) == 1


def test_confident_labels_are_not_sent(
    seeded: duckdb.DuckDBPyConnection, settings: Settings, server: FakeLLMServer
) -> None:
    classify_repositories(seeded, settings, use_llm=False, at=T1)
    strict = settings.model_copy(update={"llm_threshold": 0.0})
    result = classify_repositories(seeded, strict, use_llm=True, at=T2)
    assert result.candidates == 0 and server.requests == []


def test_fallbacks_are_flagged_then_retried_on_the_next_run(
    seeded: duckdb.DuckDBPyConnection, settings: Settings, server: FakeLLMServer
) -> None:
    server.set_mode("error")
    down = classify_repositories(seeded, settings.model_copy(update={"llm_timeout": 2}),
                                 use_llm=True, at=T1)
    assert down.llm_fallbacks == 4
    for label in labels(seeded).values():
        assert label["method"] in {"model", "rules"} and label["prompt_version"] is None
        assert FLAG_FALLBACK in label["flags"] and "reason=endpoint_unavailable" in label["flags"]
    assert cached_answers(seeded) == 0

    # a plain run leaves the fallbacks alone; the next run with the LLM retries them
    assert classify_repositories(seeded, settings, use_llm=False, at=T2).candidates == 0
    server.reset("good")
    retried = classify_repositories(seeded, settings, use_llm=True, at=T3)
    assert retried.candidates == 4 and retried.by_method == {"llm": 4}
    assert retried.llm_fallbacks == 0 and len(server.requests) == 1


def test_a_spent_budget_is_finished_on_the_next_run(
    seeded: duckdb.DuckDBPyConnection, settings: Settings, server: FakeLLMServer
) -> None:
    small = settings.model_copy(update={"llm_batch_size": 1, "llm_max_requests": 3})
    first = classify_repositories(seeded, small, use_llm=True, at=T1)
    assert first.by_method.get("llm") == 3 and first.llm_fallbacks == 1
    flagged = [label for label in labels(seeded).values() if label["flags"]]
    assert len(flagged) == 1 and "reason=budget_exhausted" in flagged[0]["flags"]
    second = classify_repositories(seeded, small, use_llm=True, at=T2)
    assert second.candidates == 1 and second.by_method == {"llm": 1}
    assert all(label["method"] == "llm" for label in labels(seeded).values())


def test_a_changed_text_the_llm_does_not_see_is_answered_from_the_cache(
    seeded: duckdb.DuckDBPyConnection, settings: Settings, server: FakeLLMServer
) -> None:
    readme = "Vector search engine. " * 30  # longer than the README excerpt the LLM is shown
    save_readme(seeded, 3, readme + "Old footer.", '"etag-1"')
    classify_repositories(seeded, settings, use_llm=True, at=T1)
    assert len(server.requests) == 1
    before = current_label(seeded, 3)

    save_readme(seeded, 3, readme + "New footer, past what the prompt shows.", '"etag-2"')
    rerun = classify_repositories(seeded, settings, use_llm=True, at=T2)
    assert rerun.candidates == 1 and rerun.llm_requests == 0 and rerun.llm_tokens == 0
    assert len(server.requests) == 1  # the cache answered
    after = current_label(seeded, 3)
    assert after is not None and before is not None
    assert after["method"] == "llm" and after["text_hash"] != before["text_hash"]
    assert after["category"] == before["category"]
    assert after["prompt_version"] == prompts.PROMPT_VERSION


def test_the_classify_command_runs_the_llm_stage_after_a_plain_run(
    db_path: Path, server: FakeLLMServer, trained: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command as the README gives it: `classify`, then `classify --llm` with the endpoint
    configured in the environment, then `classify` (the LLM on by default when configured)."""
    con = connect(db_path)
    add_repositories(con, [make_repo(repo_id, name, created=date(2023, 4, 1),
                                     description=description)
                           for repo_id, name, description in REPOS])
    con.close()
    shutil.copytree(trained, tmp_path / "data" / "models")  # the data dir conftest sets
    for name, value in {"LLM_URL": server.url, "LLM_MODEL": FAKE_MODEL_ID,
                        "LLM_THRESHOLD": "0.999"}.items():
        monkeypatch.setenv(f"STACKATLAS_{name}", value)
    get_settings.cache_clear()

    def classify(*options: str) -> str:
        result = CliRunner().invoke(app, ["classify", "--db", str(db_path), *options])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert "4 of 4 repositories labelled" in classify("--no-llm") and server.requests == []
    answered = classify("--llm")
    assert "4 of 4 repositories labelled (llm 4)" in answered and "LLM requests 1" in answered
    assert "0 of 0 repositories labelled" in classify()
    assert len(server.requests) == 1
    con = connect(db_path)
    try:
        assert {label["method"] for label in labels(con).values()} == {"llm"}
        assert cached_answers(con) == 4
    finally:
        con.close()
