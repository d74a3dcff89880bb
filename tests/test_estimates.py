"""Estimated counts in the warehouse and the API, and the review queue (API and CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_app
from classifier import quantify
from classifier.estimation import (
    estimate_and_store,
    population_rows,
    review_keys,
    review_order,
    review_scores,
)
from classifier.labels import LabeledRepo, load_seed_labels
from classifier.model import TrainedModel, train_model
from classifier.overrides import set_human_label
from classifier.service import as_text
from stackatlas.main import app as cli_app
from stackatlas.settings import Settings
from tests.factories import add_label, add_repositories, make_repo
from warehouse.estimates import (
    EstimateRun,
    human_confirmed,
    latest_run,
    monthly_estimates,
    review_queue,
    save_estimates,
)
from warehouse.labels import current_label
from warehouse.releases import publish_release

API_KEY = "review-key"

REPOS = [
    make_repo(1, "acme/chat-desk", created=date(2023, 1, 5),
              description="A desktop chat app for local language models"),
    make_repo(2, "acme/agent-kit", created=date(2023, 1, 20),
              description="Framework for building LLM agents with tools and memory"),
    make_repo(3, "acme/vecstore", created=date(2023, 3, 2),
              description="Vector database for embeddings and similarity search"),
    make_repo(4, "acme/tiny-7b", created=date(2023, 3, 9),
              description="Weights and inference code of the Tiny 7B language model"),
    make_repo(5, "acme/tune-lab", created=date(2023, 4, 1),
              description="Fine-tune LLMs with LoRA and QLoRA on one GPU"),
    make_repo(6, "acme/web-go", created=date(2023, 4, 3), language="Go",
              description="A fast HTTP web framework"),
    make_repo(7, "acme/llm-serve", created=date(2023, 4, 20),
              description="High-throughput LLM inference server with batching"),
    make_repo(8, "acme/rag-notes", created=date(2023, 4, 28),
              description="Chat with your notes: retrieval app built on LLMs"),
]  # fmt: skip
LABELS = {1: "applications", 2: "app-development", 3: "infrastructure", 4: "models",
          5: "model-development", 6: "other", 7: "infrastructure", 8: "applications"}


@pytest.fixture(scope="module")
def small_model() -> tuple[TrainedModel, quantify.Validation]:
    """A model trained on a stratified fifth of the seeds, and its real cross-validation."""
    seeds = load_seed_labels()
    picked: list[LabeledRepo] = []
    for category in quantify.CATEGORIES:
        picked += [label for label in seeds if label.category == category][:40]
    return train_model(picked), quantify.cross_validate(picked, folds=3)


@pytest.fixture
def warehouse(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    add_repositories(con, REPOS)
    for repo_id, category in LABELS.items():
        add_label(con, repo_id, category, confidence=0.6)
    return con


def store(con: duckdb.DuckDBPyConnection, model: TrainedModel,
          validation: quantify.Validation, at: datetime | None = None) -> EstimateRun:
    rows = population_rows(con)
    run = estimate_and_store(con, model, validation, rows, [as_text(r) for r in rows],
                             replicates=50, at=at)
    assert run is not None
    return run


def test_estimates_are_stored_per_model_version(
    warehouse: duckdb.DuckDBPyConnection,
    small_model: tuple[TrainedModel, quantify.Validation],
) -> None:
    model, validation = small_model
    run = store(warehouse, model, validation)
    assert (run.model_version, run.method, run.repos) == (model.version, "cpcc", 8)
    frame = monthly_estimates(warehouse)
    months = sorted(set(frame["month"].to_list()))
    assert months == [date(2023, m, 1) for m in (1, 2, 3, 4)]  # February filled in
    assert set(frame["method"].to_list()) == {"cpcc"}
    last = frame.filter(pl.col("month") == date(2023, 4, 1))
    assert last["estimate"].sum() == pytest.approx(8.0)  # every repository, cumulatively
    assert (frame["lo"] <= frame["estimate"] + 1e-9).all()
    assert (frame["estimate"] <= frame["hi"] + 1e-9).all()
    monthly = monthly_estimates(warehouse, cumulative=False)
    assert monthly.filter(pl.col("month") == date(2023, 2, 1))["estimate"].sum() == 0
    # another model version gets its own set; the newest is served, the older one stays
    other = EstimateRun("other-version", "cc", datetime(2030, 1, 1), 1, 0, 0, 0.9, 0)
    save_estimates(warehouse, other, pl.DataFrame({
        "month": [date(2023, 1, 1)], "layer": ["model"], "category": ["models"],
        **{c: [1.0] for c in ("estimate", "lo", "hi", "cumulative_estimate", "cumulative_lo",
                              "cumulative_hi")}}))
    newest = latest_run(warehouse)
    assert newest is not None and newest.model_version == "other-version"
    assert monthly_estimates(warehouse)["model_version"].unique().to_list() == ["other-version"]
    again = monthly_estimates(warehouse, model_version=model.version)
    assert again.height == frame.height
    # recomputing one version replaces its rows instead of adding to them
    store(warehouse, model, validation, at=datetime(2031, 1, 1))
    assert monthly_estimates(warehouse, model_version=model.version).height == frame.height
    release = publish_release(warehouse, {"test": True})
    frozen = monthly_estimates(warehouse, release=release.id)
    assert frozen.height == frame.height
    assert frozen["estimate"].to_list() == again["estimate"].to_list()


def test_human_labels_count_as_certain(
    warehouse: duckdb.DuckDBPyConnection,
    small_model: tuple[TrainedModel, quantify.Validation],
) -> None:
    model, validation = small_model
    for name in ("acme/tiny-7b", "acme/vecstore"):
        set_human_label(warehouse, name, "models")
    assert human_confirmed(warehouse) == 2
    run = store(warehouse, model, validation)
    assert run.human_confirmed == 2
    march = monthly_estimates(warehouse, cumulative=False).filter(
        pl.col("month") == date(2023, 3, 1))
    models = march.filter(pl.col("category") == "models").row(0, named=True)
    assert models["estimate"] == pytest.approx(2.0) and models["lo"] == models["hi"] == 2.0
    queue = {row["full_name"] for row in review_queue(warehouse, limit=50)}
    assert queue == {r.full_name for r in REPOS} - {"acme/tiny-7b", "acme/vecstore"}


def test_review_scores_favour_uncertain_rows_of_small_categories() -> None:
    columns = {c: i for i, c in enumerate(quantify.CATEGORIES)}
    rows = np.zeros((3, len(quantify.CATEGORIES)))
    rows[0, [columns["models"], columns["model-development"]]] = [0.5, 0.5]
    rows[1, [columns["applications"], columns["app-development"]]] = [0.5, 0.5]
    rows[2, [columns["applications"], columns["app-development"]]] = [0.95, 0.05]
    counts = np.zeros(len(quantify.CATEGORIES))
    counts[[columns["models"], columns["model-development"]]] = [10, 40]
    counts[[columns["applications"], columns["app-development"]]] = [100, 100]
    scores = review_scores(rows, counts)
    assert scores[0] > scores[1] > scores[2] > 0
    # a certain row, or one about categories no chart counts, changes no count
    rows[2] = 0.0
    rows[2, columns["other"]] = 1.0
    assert review_scores(rows, counts)[2] == 0.0


def test_the_queue_goes_by_score_first_then_by_a_fixed_random_key() -> None:
    rng = np.random.default_rng(7)
    scores, keys = rng.random(100), review_keys(range(100))
    nobody = np.full(100, -1)
    order = review_order(scores, nobody, keys)
    assert sorted(order) == list(range(100))
    assert list(order[:5]) == list(np.argsort(-scores)[:5])  # 5% of 100 by score
    assert list(keys[order[5:]]) == sorted(keys[order[5:]])
    # confirmations count against the head and leave the queue
    some = nobody.copy()
    some[order[:3]] = 0
    later = review_order(scores, some, keys)
    assert len(later) == 97 and not set(later) & set(order[:3])
    assert list(later[:2]) == list(order[3:5])
    many = nobody.copy()
    many[:10] = 1
    rest = review_order(scores, many, keys)
    assert list(keys[rest]) == sorted(keys[rest]) and len(rest) == 90


def test_review_keys_are_fixed_uniform_numbers_per_repository() -> None:
    keys = review_keys(range(2000))
    assert np.array_equal(keys, review_keys(range(2000)))
    assert ((keys >= 0) & (keys < 1)).all() and 0.45 < keys.mean() < 0.55
    assert not np.array_equal(keys, review_keys(range(2000), salt="1:"))


@pytest.fixture
def client(warehouse: duckdb.DuckDBPyConnection, db_path: Path,
           small_model: tuple[TrainedModel, quantify.Validation]) -> Iterator[TestClient]:
    store(warehouse, *small_model)
    settings = Settings(db=db_path, api_key=SecretStr(API_KEY))
    with TestClient(create_app(settings, connection=warehouse)) as test_client:
        yield test_client


def test_monthly_counts_with_estimate_true(client: TestClient) -> None:
    plain = client.get("/v1/counts/monthly").json()
    assert plain["estimated"] is None and plain["human_confirmed"] == 0
    body = client.get("/v1/counts/monthly?estimate=true&category=infrastructure").json()
    assert body["items"] and all(i["category"] == "infrastructure" for i in body["items"])
    estimated = body["estimated"]
    assert estimated["method"] == "cpcc" and estimated["interval_level"] == 0.9
    assert estimated["cumulative"] is True and estimated["model_version"]
    items = estimated["items"]
    assert [i["month"] for i in items] == ["2023-01", "2023-02", "2023-03", "2023-04"]
    assert all(i["category"] == "infrastructure" and i["lo"] <= i["estimate"] <= i["hi"]
               for i in items)
    assert [i["estimate"] for i in items] == sorted(i["estimate"] for i in items)
    csv = client.get("/v1/counts/monthly?estimate=true&format=csv").text.splitlines()
    assert csv[0].endswith("estimated,estimated_lo,estimated_hi,estimate_method")
    assert all("other" not in line for line in csv[1:])
    alone = client.get("/v1/counts/estimated?include_other=true").json()
    assert {i["category"] for i in alone["items"]} == set(quantify.CATEGORIES)


def test_counts_without_estimates_yet(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    with TestClient(create_app(Settings(db=db_path), connection=con)) as fresh:
        assert fresh.get("/v1/counts/monthly?estimate=true").json()["estimated"] is None
        error = fresh.get("/v1/counts/estimated").json()["error"]
        assert error["code"] and "stackatlas classify" in error["hint"]


def test_review_queue_is_ranked_and_answers_go_through_the_label_put(
    client: TestClient, warehouse: duckdb.DuckDBPyConnection
) -> None:
    body = client.get("/v1/review?limit=3").json()
    assert body["total"] == 8 and body["human_confirmed"] == 0 and len(body["items"]) == 3
    assert [i["rank"] for i in body["items"]] == [1, 2, 3]
    # 8 repositories: no head by score (5% of 8 rounds to none), the calibration sample's order
    everything = [item["full_name"] for item in client.get("/v1/review?limit=50").json()["items"]]
    keys = review_keys([_id(name) for name in everything])
    assert list(keys) == sorted(keys) and everything[:3] == [i["full_name"] for i in body["items"]]
    first = body["items"][0]
    probabilities = [a["probability"] for a in first["alternatives"]]
    assert probabilities == sorted(probabilities, reverse=True) and len(probabilities) == 4
    assert first["label"]["method"] == "model" and first["answer"].startswith("PUT /v1/repos/")
    second_page = client.get("/v1/review?limit=3&offset=3").json()["items"]
    assert second_page[0]["rank"] == 4 and second_page[0]["full_name"] == everything[3]
    answer = client.put(f"/v1/repos/{first['full_name']}/label",
                        json={"category": "models"}, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200, answer.text
    after = client.get("/v1/review?limit=50").json()
    assert after["total"] == 7 and after["human_confirmed"] == 1
    assert first["full_name"] not in {item["full_name"] for item in after["items"]}
    assert client.get("/v1/summary").json()["human_confirmed"] == 1
    assert client.get("/v1/review?category=nonsense").status_code == 422
    assert client.get("/v1/review?offset=99999999999999999999").status_code == 422


def test_review_cli_accepts_corrects_skips_and_quits(
    client: TestClient, warehouse: duckdb.DuckDBPyConnection, db_path: Path
) -> None:
    order = [row["full_name"] for row in review_queue(warehouse, limit=4)]
    choices = {}
    for row in review_queue(warehouse, limit=4):
        ranked = sorted(zip(row["categories"], row["probabilities"], strict=True),
                        key=lambda pair: -pair[1])
        choices[row["full_name"]] = [c for c, _ in ranked]
    result = CliRunner().invoke(
        cli_app, ["review", "--db", str(db_path), "--limit", "4", "--no-update"],
        input="a\n3\nx\ns\nq\n")
    assert result.exit_code == 0, result.output
    assert "'x' is not an answer" in result.output
    assert "1 confirmed, 1 corrected, 1 skipped; 2 labels are human-confirmed" in result.output
    assert order[0] in result.output and "probability" in result.output
    accepted = current_label(warehouse, _id(order[0]))
    corrected = current_label(warehouse, _id(order[1]))
    assert accepted is not None and accepted["method"] == "human"
    assert accepted["category"] == LABELS[_id(order[0])] and "confirmed" in accepted["note"]
    assert corrected is not None and corrected["method"] == "human"
    assert corrected["category"] == choices[order[1]][2]
    for skipped in order[2:]:
        label = current_label(warehouse, _id(skipped))
        assert label is not None and label["method"] == "model"


def _id(full_name: str) -> int:
    return next(r.id for r in REPOS if r.full_name == full_name)
