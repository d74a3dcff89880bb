"""Rules and the trained model: determinism, persistence and stages (speed: bench/classify.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier import taxonomy
from classifier.features import feature_columns
from classifier.labels import LabeledRepo, RepoText, load_seed_labels
from classifier.model import (
    AI_DECISION,
    AI_DECISION_AT_TRAINING_SHARE,
    ModelError,
    TrainedModel,
    load_model,
    train_model,
)
from classifier.rules import apply_rules


@pytest.fixture(scope="module")
def seeds() -> list[LabeledRepo]:
    return load_seed_labels()


@pytest.fixture(scope="module")
def model(seeds: list[LabeledRepo]) -> TrainedModel:
    return train_model(seeds)


UNSEEN = [
    RepoText("acme/vector-store-x", "Distributed vector database for embeddings similarity "
             "search", "Go"),
    RepoText("acme/webstack", "Minimal HTTP web framework for building REST services", "Go"),
    RepoText("acme/lora-tuner", "Fine-tune LLMs with LoRA and QLoRA on one GPU", "Python"),
    RepoText("someone/awesome-llm-agents", "A curated list of LLM agent frameworks"),
    RepoText("someone/awesome-kotlin", "A curated list of awesome Kotlin libraries"),
    RepoText("disktools/gpt-fdisk", "Partition editor for GPT (GUID partition table) disks", "C"),
]


@pytest.mark.parametrize(
    ("repo", "category"),
    [
        (RepoText("x/awesome-llm", "A curated list of resources for large language models"),
         "lists"),
        (RepoText("x/awesome-vue", "A curated list of awesome things related to Vue.js"), "other"),
        (RepoText("x/gptpart", "Repair GPT partition tables and disk boot sectors"), "other"),
        (RepoText("x/llm-tool", "A tool for LLM agents"), None),
    ],
)
def test_rules(repo: RepoText, category: str | None) -> None:
    match = apply_rules(repo)
    assert (match.category if match else None) == category


def test_predictions_are_well_formed(model: TrainedModel) -> None:
    predictions = model.predict(UNSEEN)
    assert len(predictions) == len(UNSEEN)
    for prediction in predictions:
        assert prediction.category in taxonomy.CATEGORIES
        assert prediction.layer == taxonomy.layer_of(prediction.category)
        assert 0.0 <= prediction.confidence <= 1.0
        assert prediction.method in {"model", "rules"}
        assert prediction.model_version == model.version
        if prediction.subcategory:
            assert prediction.subcategory in taxonomy.CATEGORIES[prediction.category].subcategories
    by_name = {repo.full_name: p for repo, p in zip(UNSEEN, predictions, strict=True)}
    assert by_name["someone/awesome-llm-agents"].category == "lists"
    assert by_name["someone/awesome-kotlin"].method == "rules"
    assert by_name["disktools/gpt-fdisk"].category == "other"
    assert by_name["acme/webstack"].category == "other"
    assert by_name["acme/vector-store-x"].category == "infrastructure"
    assert by_name["acme/lora-tuner"].category == "model-development"
    assert by_name["acme/lora-tuner"].rationale.startswith("top terms: ")


def test_training_is_deterministic(seeds: list[LabeledRepo], model: TrainedModel) -> None:
    again = train_model(list(reversed(seeds)))
    assert again.version == model.version
    assert again.predict(UNSEEN) == model.predict(UNSEEN)


def test_version_changes_with_the_labels(seeds: list[LabeledRepo], model: TrainedModel) -> None:
    fewer = train_model(seeds[:-1])
    assert fewer.version != model.version
    assert model.trained_on(seeds) and not model.trained_on(seeds[:-1])


def test_save_load_round_trip(tmp_path: Path, model: TrainedModel) -> None:
    folder = model.save(tmp_path / "models")
    assert folder.name == model.version
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["version"] == model.version
    assert metadata["taxonomy_version"] == taxonomy.TAXONOMY_VERSION
    assert sum(metadata["label_counts"].values()) == metadata["labels"]
    assert metadata["created_at"] and metadata["data_hash"]
    for source in (tmp_path / "models", folder):
        loaded = TrainedModel.load(source)
        assert loaded.predict(UNSEEN) == model.predict(UNSEEN)


def test_load_without_a_model(tmp_path: Path) -> None:
    assert load_model(tmp_path) is None
    with pytest.raises(ModelError, match="no trained model"):
        TrainedModel.load(tmp_path)


def test_ai_stage_needs_non_ai_rows(seeds: list[LabeledRepo]) -> None:
    ai_only = [label for label in seeds if label.category != "other"]
    model = train_model(ai_only)
    assert model.ai_stage is None
    assert all(p.category != "other" for p in model.predict(UNSEEN[:3]))


def test_tiny_training_set_still_trains() -> None:
    labels = [
        LabeledRepo(full_name="a/llm-serve", description="LLM inference server",
                    layer="infrastructure", category="infrastructure"),
        LabeledRepo(full_name="b/chat-app", description="Chat app for you", layer="application",
                    category="applications"),
    ]
    model = train_model(labels)
    assert model.ai_stage is None and model.subcategory_stage is None  # too few to learn them
    serve, chat = model.predict([RepoText("c/serve-llm", "Inference server for LLM"),
                                 RepoText("e/chat", "A chat app for you")])
    assert (serve.category, serve.layer) == ("infrastructure", "infrastructure")
    assert (chat.category, chat.layer) == ("applications", "application")
    assert serve.confidence > 0.5 and chat.confidence > 0.5


def test_no_labels_is_an_error() -> None:
    with pytest.raises(ModelError):
        train_model([])


def test_the_ai_decision_is_recorded(model: TrainedModel) -> None:
    assert model.ai_stage is not None
    assert model.metadata["ai_decision"] == AI_DECISION


def test_not_ai_below_the_decision_at_the_training_share(model: TrainedModel) -> None:
    repo = RepoText("acme/webstack", "Minimal HTTP web framework for building REST services", "Go")
    (probability,) = model._ai_probabilities(feature_columns([repo]))
    (prediction,) = model.predict([repo])
    assert probability < AI_DECISION_AT_TRAINING_SHARE
    assert prediction.category == "other"
    assert f"P(AI)={probability:.2f}" in prediction.rationale


def test_lexicon_counts_strong_and_weak_ai_terms() -> None:
    from classifier.lexicon import GROUPS, lexicon_features, term_counts

    counts = dict(zip(GROUPS, term_counts("Fine-tune LLMs with PyTorch for object detection"),
                      strict=True))
    assert counts["llm"] == 1 and counts["ml"] == 2 and counts["task"] == 1  # fine-tune, pytorch
    assert term_counts("a fast, scalable, multi-language build system").sum() == 0
    # 'gpt' inside 'chatgpt-next' counts, 'ai' inside 'maintain' does not
    assert term_counts("chatgpt next web")[GROUPS.index("llm")] == 1
    assert term_counts("maintained email client")[GROUPS.index("ai_word")] == 0
    features = lexicon_features(["LLM agent", "zstd compression"])
    assert features.shape == (2, len(GROUPS) + 1)
    assert features[0, -1] == 0.0 and features[1, -1] == 1.0  # last column: no strong term


def test_vocabulary_column_keeps_raw_name_and_skips_owner() -> None:
    from classifier.features import VOCABULARY

    (row,) = feature_columns([RepoText("YerongAI/node2vec", "Graph embeddings")])
    assert "node2vec" in row[VOCABULARY] and "yerong" not in row[VOCABULARY].lower()


def test_meta_has_year_and_language_only_when_known() -> None:
    from classifier.features import META, SHORT, VOCABULARY

    known, unknown = feature_columns([
        RepoText("acme/agents", "Agent framework", "Python", created_at="2024-03-01"),
        RepoText("acme/agents", "Agent framework"),
    ])
    assert {"lang_python", "year_2024"} <= set(known[META].split())
    assert not any(token.startswith(("lang_", "year_")) for token in unknown[META].split())
    # the "is AI" texts carry neither (it reads the language only as a centred score, 0 if unknown)
    assert known[SHORT] == unknown[SHORT] and known[VOCABULARY] == unknown[VOCABULARY]


def test_single_class_sources_are_down_weighted() -> None:
    from classifier.model import (
        SINGLE_CLASS_SOURCE_WEIGHT,
        _ai_sample_weights,
        _single_class_sources,
    )

    labels = [
        LabeledRepo(full_name=f"a/{i}", layer="model", category="models", source="ai-list")
        for i in range(4)
    ] + [
        LabeledRepo(full_name="b/x", layer="model", category="models", source="ranking"),
        LabeledRepo(full_name="b/y", layer="none", category="other", source="ranking"),
    ]
    is_ai = np.array([label.category != "other" for label in labels])
    single = _single_class_sources(labels, is_ai)
    assert single.tolist() == [True] * 4 + [False, False]
    weights = _ai_sample_weights(single, is_ai)
    assert weights[0] / weights[4] == pytest.approx(SINGLE_CLASS_SOURCE_WEIGHT)
    assert weights[is_ai].sum() == pytest.approx(weights[~is_ai].sum())
    assert weights.mean() == pytest.approx(1.0)


def test_plain_software_without_ai_terms_is_not_ai(seeds: list[LabeledRepo]) -> None:
    """The style of an AI list must not make a repository AI; its vocabulary must."""
    ai_list = [
        LabeledRepo(full_name=label.full_name, description=label.description, layer=label.layer,
                    category=label.category, source="ai-list")
        for label in seeds if label.category != "other"
    ]
    model = train_model(seeds + ai_list)
    plain = [RepoText("bazelbuild/bazel", "a fast, scalable, multi-language and extensible build "
                      "system"),
             RepoText("facebook/zstd", "Zstandard - Fast real-time compression algorithm")]
    assert all(p.category == "other" for p in model.predict(plain))
    (llm,) = model.predict([RepoText("acme/llm-finetune", "Fine-tune large language models with "
                                     "LoRA in PyTorch")])
    assert llm.category != "other"


def test_language_log_odds_are_centred_and_unknown_languages_score_zero() -> None:
    from classifier.features import language_feature, language_log_odds

    languages = np.array(["python"] * 8 + ["php"] * 8 + [""] * 4, dtype=object)
    is_ai = np.array([True] * 6 + [False] * 2 + [True] + [False] * 7 + [True] * 4)
    odds = language_log_odds(languages, is_ai, np.ones(len(languages)))
    assert set(odds) == {"python", "php"}  # no entry for the unknown language
    assert odds["python"] > 0 > odds["php"]
    features = language_feature(np.array(["python", "", "cobol"], dtype=object), odds)
    assert features.shape == (3, 1)
    assert features[0, 0] == odds["python"] and features[1, 0] == features[2, 0] == 0.0
