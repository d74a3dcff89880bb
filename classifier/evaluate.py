"""Evaluating the classifier against a gold labels file.

Training labels that are a gold repository (under the same name, a former or later one, see
``classifier/overlap.py``) or whose description nearly copies a gold one are removed first, so that
a score never rewards memory. The optional refiner (the LLM stage, ``classifier.llm.LLMRefiner``)
is any object with ``refine(texts, predictions) -> (predictions, stats)``; ``stats`` may carry
``requests``, ``total_tokens`` (or ``tokens``) and ``sent``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score

from classifier import quantify, taxonomy
from classifier.labels import LabeledRepo, RepoText
from classifier.model import Prediction, TrainedModel, train_model
from classifier.overlap import without_overlap


class Refiner(Protocol):
    def refine(
        self, texts: Sequence[RepoText], predictions: Sequence[Prediction]
    ) -> tuple[list[Prediction], Any]: ...


@dataclass
class EvalReport:
    gold: int
    training: int
    removed_from_training: int
    layer_accuracy: float
    category_accuracy: float
    macro_f1: float
    ai_precision: float
    ai_recall: float
    llm_requests: int
    llm_tokens: int
    llm_share: float
    repos_per_second: float
    model_version: str
    ai_prior: float | None = None
    by_method: dict[str, int] = field(default_factory=dict)
    confusion_labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    # Per category: gold, labelled (classify and count) and estimated count (with its interval)
    counts: dict[str, dict[str, float]] = field(default_factory=dict)
    count_method: str | None = None
    # mean and worst |estimated − gold| / gold over quantify.COUNTED (None: no estimate made)
    count_error_mean: float | None = None
    count_error_max: float | None = None
    labelled_count_error_mean: float = 0.0
    labelled_count_error_max: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def remove_gold(
    training: Sequence[LabeledRepo], gold: Sequence[LabeledRepo]
) -> tuple[list[LabeledRepo], int]:
    """Training labels minus the gold repositories (renamed or moved ones too) and minus near
    copies of gold descriptions, and how many were removed."""
    kept = without_overlap(training, gold)
    return kept, len(training) - len(kept)


def _stat(stats: Any, *names: str) -> int:
    for name in names:
        value = stats.get(name) if isinstance(stats, dict) else getattr(stats, name, None)
        if value is not None:
            return int(value)
    return 0


@dataclass(frozen=True)
class Scores:
    layer_accuracy: float
    category_accuracy: float
    macro_f1: float
    ai_precision: float
    ai_recall: float
    confusion_labels: list[str]
    confusion: list[list[int]]


def score(gold: Sequence[LabeledRepo], predictions: Sequence[Prediction]) -> Scores:
    """Accuracy, macro-F1, "is AI" precision/recall and the confusion matrix (rows = gold)."""
    true = [label.category for label in gold]
    predicted = [prediction.category for prediction in predictions]
    labels = [c for c in taxonomy.CATEGORIES if c in set(true) | set(predicted)]
    true_ai = [c != taxonomy.NOT_AI_CATEGORY for c in true]
    predicted_ai = [c != taxonomy.NOT_AI_CATEGORY for c in predicted]
    count = max(1, len(true))
    return Scores(
        layer_accuracy=sum(
            label.layer == p.layer for label, p in zip(gold, predictions, strict=True)
        ) / count,
        category_accuracy=sum(t == p for t, p in zip(true, predicted, strict=True)) / count,
        macro_f1=float(f1_score(true, predicted, labels=labels, average="macro",
                                zero_division=0)),
        ai_precision=float(precision_score(true_ai, predicted_ai, zero_division=0)),
        ai_recall=float(recall_score(true_ai, predicted_ai, zero_division=0)),
        confusion_labels=labels,
        confusion=confusion_matrix(true, predicted, labels=labels).tolist(),
    )


def evaluate(
    gold: Sequence[LabeledRepo],
    training: Sequence[LabeledRepo],
    refiner: Refiner | None = None,
    model: TrainedModel | None = None,
    ai_prior: float | Literal["batch"] | None = "batch",
    count_folds: int = quantify.VALIDATION_FOLDS,
) -> EvalReport:
    """Train on ``training`` minus gold (unless ``model`` is given), predict gold, score it.

    ``ai_prior``: the AI share the "is AI" decisions assume; "batch" estimates it from the gold
    texts (without their labels), as the service estimates it from the warehouse.
    ``count_folds``: folds of the cross-validation of the training labels that measures the
    confusion the estimated counts correct (0: labelled counts only). The estimate reads the
    model's probabilities, not the LLM's answers.
    """
    kept, removed = remove_gold(training, gold)
    model = model or train_model(kept)
    texts = [label.as_text() for label in gold]
    started = time.perf_counter()
    if ai_prior == "batch":
        ai_prior = model.estimate_ai_prior(texts)
    predictions = model.predict(texts, ai_prior=ai_prior)
    requests = tokens = sent = 0
    if refiner is not None:
        predictions, stats = refiner.refine(texts, predictions)
        requests = _stat(stats, "requests")
        tokens = _stat(stats, "total_tokens", "tokens")
        sent = _stat(stats, "sent")
    elapsed = max(time.perf_counter() - started, 1e-9)
    scores = score(gold, predictions)
    by_method: dict[str, int] = {}
    for prediction in predictions:
        by_method[prediction.method] = by_method.get(prediction.method, 0) + 1
    return EvalReport(
        gold=len(gold),
        training=len(kept),
        removed_from_training=removed,
        layer_accuracy=scores.layer_accuracy,
        category_accuracy=scores.category_accuracy,
        macro_f1=scores.macro_f1,
        ai_precision=scores.ai_precision,
        ai_recall=scores.ai_recall,
        llm_requests=requests,
        llm_tokens=tokens,
        llm_share=sent / len(gold) if gold else 0.0,
        repos_per_second=len(gold) / elapsed,
        model_version=model.version,
        ai_prior=ai_prior,
        by_method=by_method,
        confusion_labels=scores.confusion_labels,
        confusion=scores.confusion,
        **count_fields(gold, predictions, model, kept, count_folds),
    )


def count_fields(gold: Sequence[LabeledRepo], predictions: Sequence[Prediction],
                 model: TrainedModel, training: Sequence[LabeledRepo],
                 folds: int) -> dict[str, Any]:
    """Gold, labelled and estimated counts per category, and the count errors."""
    gold_counts = _counts(label.category for label in gold)
    labelled = _counts(prediction.category for prediction in predictions)
    counts = {c: {"gold": gold_counts[c], "labelled": labelled[c]} for c in quantify.CATEGORIES}
    fields: dict[str, Any] = {"counts": counts}
    fields["labelled_count_error_mean"], fields["labelled_count_error_max"] = (
        quantify.count_error(labelled, gold_counts))
    if folds < 2 or not gold:
        return fields
    validation = quantify.cross_validate(training, folds=folds, trainer=train_model)
    probabilities = model.probabilities([label.as_text() for label in gold])
    result = quantify.estimate_monthly(quantify.COUNT_METHOD, probabilities,
                                       [0] * len(gold), validation)
    for index, category in enumerate(quantify.CATEGORIES):
        counts[category].update(estimated=float(result.estimate[0, index]),
                                lo=float(result.lo[0, index]), hi=float(result.hi[0, index]))
    estimated = {c: counts[c]["estimated"] for c in quantify.CATEGORIES}
    fields["count_method"] = quantify.COUNT_METHOD
    fields["count_error_mean"], fields["count_error_max"] = quantify.count_error(
        estimated, gold_counts)
    return fields


def _counts(categories: Any) -> dict[str, float]:
    counted = dict.fromkeys(quantify.CATEGORIES, 0.0)
    for category in categories:
        counted[category] += 1
    return counted
