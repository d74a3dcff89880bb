"""The trained classifier: rules first, then a two-stage scikit-learn text model.

Stage one decides "is AI" (trained on every label, reading only the names, the description and the
language: n-grams beside counts of AI vocabulary and the language's AI log-odds, with rows of
single-class labels sources down-weighted and AI and non-AI weighted equally; its probability is
then moved to the AI share of the population being classified, ``classifier/prior.py``, and cut at
AI_DECISION, or at AI_DECISION_AT_TRAINING_SHARE when that share is unknown); stage two picks the
AI category (trained on AI labels only, so that adding many non-AI rows leaves category accuracy
alone); a third linear model picks the subcategory within the chosen category. Both decisions are
probabilities (logistic regression for "is AI", sigmoid-calibrated linear SVMs for the category);
the confidence of a label is P(AI) × P(category | AI). Everything is seeded, so the same labels
give the same model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from classifier import prior, taxonomy
from classifier.features import (
    LANGUAGE,
    build_ai_vectoriser,
    build_vectoriser,
    feature_columns,
    language_log_odds,
)
from classifier.labels import LabeledRepo, RepoText
from classifier.rules import RULE_CONFIDENCE, apply_rules
from stackatlas.errors import StackatlasError

log = logging.getLogger(__name__)

CODE_VERSION = "5"
SEED = 0
SVM_C = 0.3
CALIBRATION_FOLDS = 3
AI_C = 10.0
# A labels source whose rows are all AI (or all not) shows the "is AI" stage the style of that
# source rather than the boundary: without this weight the n-grams learn "reads like an AI list".
SINGLE_CLASS_SOURCE_WEIGHT = 0.03
# With a known AI share, P(AI) is a probability for that population. The cut is below 0.5 (the
# accuracy-optimal one) because "is AI" is judged by precision and recall, i.e. F1, whose optimal
# cut on calibrated probabilities is F1/2 or lower. Measured (bench/classify.py, AI-or-not rows,
# 5-fold, batch prior, with an earlier 2,219-row seed set): 0.2 → precision/recall 0.842/0.848,
# 0.3 → 0.865/0.826, 0.4 → 0.881/0.788. With the language log-odds feature (1,996 seeds, split
# random_state 0 / 1): 0.1 → 0.874/0.841 / 0.866/0.833, 0.3 → 0.897/0.727 / 0.914/0.727.
AI_DECISION = 0.1
# Without a known share the probabilities are those of a half-AI population: keep the higher cut.
AI_DECISION_AT_TRAINING_SHARE = 0.3
MIN_ROWS_PER_SIDE = 5  # fewer non-AI (or AI) labels than this: no "is AI" stage
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
LATEST_FILE = "LATEST"


class ModelError(StackatlasError):
    """A model artifact is missing, unreadable or was made by an incompatible version."""

    exit_code = 2


@dataclass(frozen=True)
class Prediction:
    layer: str
    category: str
    subcategory: str
    confidence: float
    method: str  # "model" or "rules" here; the LLM stage adds "llm"
    model_version: str
    rationale: str = ""
    # set by the LLM stage (classifier/llm.py): the prompt behind an "llm" label, and flags such
    # as "llm_fallback,reason=budget_exhausted" when the model label stood in for the LLM's
    prompt_version: str | None = None
    flags: str | None = None


def _calibrated_svm(labels: np.ndarray) -> CalibratedClassifierCV:
    folds = max(2, min(CALIBRATION_FOLDS, int(min(Counter(labels.tolist()).values()))))
    return CalibratedClassifierCV(
        LinearSVC(C=SVM_C, class_weight="balanced", random_state=SEED),
        method="sigmoid",
        cv=StratifiedKFold(folds, shuffle=True, random_state=SEED),
    )


def _oversample_rare(matrix: sparse.csr_matrix, labels: np.ndarray) -> tuple[Any, np.ndarray]:
    """Repeat the rows of classes rarer than the calibration folds so that every fold has one."""
    counts = Counter(labels.tolist())
    extra = [
        index
        for index, label in enumerate(labels)
        for _ in range(max(0, CALIBRATION_FOLDS - counts[label]))
    ]
    if not extra:
        return matrix, labels
    return sparse.vstack([matrix, matrix[extra]]).tocsr(), np.concatenate([labels, labels[extra]])


def _fit(matrix: Any, labels: np.ndarray) -> CalibratedClassifierCV | None:
    if len(set(labels.tolist())) < 2:
        return None
    matrix, labels = _oversample_rare(matrix, labels)
    return _calibrated_svm(labels).fit(matrix, labels)


def _mean_coefficients(model: CalibratedClassifierCV) -> np.ndarray:
    """The class-by-feature weights of the linear SVMs inside the calibrator (for rationales)."""
    coefficients = np.mean([c.estimator.coef_ for c in model.calibrated_classifiers_], axis=0)
    if coefficients.shape[0] == 1:  # two classes: one row, for the second class
        coefficients = np.vstack([-coefficients, coefficients])
    return coefficients


def training_fingerprint(labels: Sequence[LabeledRepo]) -> str:
    """A hash of the training labels and texts, independent of their order."""
    rows = sorted(
        "\t".join([label.full_name.lower(), label.category, label.subcategory, label.description,
                   label.language, ",".join(label.topics), label.readme, str(label.stars),
                   str(label.created_at)])
        for label in labels
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _version(data_hash: str) -> str:
    stamp = f"{data_hash}|code {CODE_VERSION}|taxonomy {taxonomy.TAXONOMY_VERSION}"
    return hashlib.sha256(stamp.encode()).hexdigest()[:12]


@dataclass
class TrainedModel:
    vectoriser: ColumnTransformer
    ai_stage: Pipeline | None
    category_stage: CalibratedClassifierCV | None
    subcategory_stage: LinearSVC | None
    fallback_category: str
    metadata: dict[str, Any] = field(default_factory=dict)
    _feature_names: np.ndarray | None = None
    _category_coef: np.ndarray | None = None

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    def trained_on(self, labels: Sequence[LabeledRepo]) -> bool:
        """True when this model was trained on exactly these labels by this code and taxonomy."""
        return (
            self.metadata.get("data_hash") == training_fingerprint(labels)
            and self.metadata.get("code_version") == CODE_VERSION
            and self.metadata.get("taxonomy_version") == taxonomy.TAXONOMY_VERSION
        )

    # --- prediction -------------------------------------------------------------------------

    def predict(self, texts: Sequence[RepoText],
                ai_prior: float | None = None) -> list[Prediction]:
        """One prediction per repository, in order.

        ``ai_prior``: the AI share of the population these repositories come from (see
        ``estimate_ai_prior``); the "is AI" probabilities are moved to it and a repository is AI
        when its probability reaches AI_DECISION. None: the half-AI population of training, cut at
        AI_DECISION_AT_TRAINING_SHARE.
        """
        if not texts:
            return []
        columns = feature_columns(texts)
        matrix = self.vectoriser.transform(columns).tocsr()
        ai_probability = prior.adjust(self._ai_probabilities(columns),
                                      prior.TRAINING_PRIOR if ai_prior is None else ai_prior)
        cut = AI_DECISION_AT_TRAINING_SHARE if ai_prior is None else AI_DECISION
        categories, category_probability = self._categories(matrix)
        subcategories = self._subcategories(matrix, categories)
        predictions = []
        for row, repo in enumerate(texts):
            rule = apply_rules(repo)
            if rule is not None:
                predictions.append(self._rule_prediction(rule.category, rule.reason))
            elif ai_probability[row] < cut:
                at_share = "" if ai_prior is None else f" for an AI share of {ai_prior:.0%}"
                predictions.append(self._make(
                    taxonomy.NOT_AI_CATEGORY, "", 1.0 - ai_probability[row],
                    f"not AI (P(AI)={ai_probability[row]:.2f}{at_share})"))
            else:
                category = categories[row]
                predictions.append(self._make(
                    category, subcategories[row],
                    ai_probability[row] * category_probability[row],
                    self._rationale(matrix, row, category)))
        return predictions

    def estimate_ai_prior(self, texts: Sequence[RepoText]) -> float | None:
        """The AI share of the population ``texts`` are drawn from, estimated without labels;
        None when there is no "is AI" stage or too few texts to say."""
        if self.ai_stage is None or len(texts) < prior.MIN_BATCH_FOR_ESTIMATE:
            return None
        return prior.estimate_prior(self._ai_probabilities(feature_columns(texts)))

    def probabilities(self, texts: Sequence[RepoText]) -> np.ndarray:
        """P(category) per repository over ``taxonomy.CATEGORIES`` (columns in that order), at
        the training share (half AI): P(other) = 1 − P(AI), P(c) = P(AI) · P(c | AI). A rule's
        category gets probability 1. What ``classifier/quantify.py`` counts with."""
        names = list(taxonomy.CATEGORIES)
        result = np.zeros((len(texts), len(names)))
        if not texts:
            return result
        columns = feature_columns(texts)
        ai = self._ai_probabilities(columns)
        result[:, names.index(taxonomy.NOT_AI_CATEGORY)] = 1.0 - ai
        if self.category_stage is None:
            result[:, names.index(self.fallback_category)] += ai
        else:
            matrix = self.vectoriser.transform(columns).tocsr()
            given_ai = self.category_stage.predict_proba(matrix)
            for index, category in enumerate(self.category_stage.classes_):
                result[:, names.index(str(category))] += ai * given_ai[:, index]
        for row, repo in enumerate(texts):
            rule = apply_rules(repo)
            if rule is not None:
                result[row] = 0.0
                result[row, names.index(rule.category)] = 1.0
        return result

    def _ai_probabilities(self, columns: np.ndarray) -> np.ndarray:
        if self.ai_stage is None:
            return np.ones(columns.shape[0])
        classes = list(self.ai_stage.classes_)
        return self.ai_stage.predict_proba(columns)[:, classes.index(True)]

    def _categories(self, matrix: Any) -> tuple[list[str], np.ndarray]:
        if self.category_stage is None:
            return [self.fallback_category] * matrix.shape[0], np.ones(matrix.shape[0])
        probabilities = self.category_stage.predict_proba(matrix)
        best = probabilities.argmax(axis=1)
        classes = self.category_stage.classes_
        return [str(classes[i]) for i in best], probabilities[np.arange(len(best)), best]

    def _subcategories(self, matrix: Any, categories: list[str]) -> list[str]:
        if self.subcategory_stage is None:
            return [""] * len(categories)
        scores = self.subcategory_stage.decision_function(matrix)
        if scores.ndim == 1:  # two classes: one score column
            scores = np.column_stack([-scores, scores])
        classes = [str(c).split("|", 1) for c in self.subcategory_stage.classes_]
        chosen = []
        for row, category in enumerate(categories):
            allowed = [i for i, (cat, _) in enumerate(classes) if cat == category]
            chosen.append(classes[max(allowed, key=lambda i: scores[row, i])][1] if allowed else "")
        return chosen

    def _rationale(self, matrix: Any, row: int, category: str) -> str:
        if self._category_coef is None or self._feature_names is None:
            return ""
        class_index = list(self.category_stage.classes_).index(category)  # type: ignore[union-attr]
        vector = matrix.getrow(row)
        contributions = vector.data * self._category_coef[class_index, vector.indices]
        top = [
            self._feature_names[vector.indices[i]]
            for i in np.argsort(-contributions)[:3]
            if contributions[i] > 0
        ]
        return "top terms: " + ", ".join(top) if top else ""

    def _make(self, category: str, subcategory: str, confidence: float, why: str) -> Prediction:
        return Prediction(
            layer=taxonomy.layer_of(category), category=category, subcategory=subcategory,
            confidence=round(float(min(1.0, max(0.0, confidence))), 4), method="model",
            model_version=self.version, rationale=why,
        )

    def _rule_prediction(self, category: str, reason: str) -> Prediction:
        return Prediction(
            layer=taxonomy.layer_of(category), category=category, subcategory="",
            confidence=RULE_CONFIDENCE, method="rules", model_version=self.version,
            rationale=f"rule: {reason}",
        )

    # --- persistence ------------------------------------------------------------------------

    def save(self, directory: Path | str) -> Path:
        """Write ``<directory>/<version>/`` (joblib + metadata.json) and point LATEST at it."""
        directory = Path(directory)
        target = directory / self.version
        target.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, target / MODEL_FILE, compress=3)
        (target / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2) + "\n")
        (directory / LATEST_FILE).write_text(self.version + "\n")
        log.info("saved model %s to %s", self.version, target)
        return target

    @classmethod
    def load(cls, directory: Path | str) -> TrainedModel:
        """Load from a version folder, or from a models folder (its LATEST version)."""
        folder = _resolve(Path(directory))
        metadata = json.loads((folder / METADATA_FILE).read_text())
        if metadata.get("code_version") != CODE_VERSION:
            raise ModelError(f"model in {folder} was made by classifier code "
                             f"{metadata.get('code_version')}, this is {CODE_VERSION}",
                             "retrain it: stackatlas classifier train")
        model = joblib.load(folder / MODEL_FILE)
        if not isinstance(model, cls):
            raise ModelError(f"{folder / MODEL_FILE} holds no trained model", "retrain it")
        return model


def _resolve(directory: Path) -> Path:
    if (directory / METADATA_FILE).is_file():
        return directory
    latest = directory / LATEST_FILE
    if latest.is_file():
        folder = directory / latest.read_text().strip()
        if (folder / METADATA_FILE).is_file():
            return folder
    raise ModelError(f"no trained model in {directory}", "train one: stackatlas classifier train")


def load_model(directory: Path | str) -> TrainedModel | None:
    """The model saved in ``directory`` (or its LATEST), None when there is none."""
    try:
        return TrainedModel.load(directory)
    except ModelError as error:
        log.info("%s", error.message)
        return None


def saved_metadata(directory: Path | str) -> dict[str, Any] | None:
    """The metadata of the model saved in ``directory`` (without loading it), None if none."""
    try:
        folder = _resolve(Path(directory))
    except ModelError:
        return None
    return dict(json.loads((folder / METADATA_FILE).read_text()))


# --- training ---------------------------------------------------------------------------------


def _subcategory_stage(matrix: Any, labels: Sequence[LabeledRepo]) -> LinearSVC | None:
    rows, targets = [], []
    for index, label in enumerate(labels):
        subcategory = taxonomy.normalise_subcategory(label.category, label.subcategory)
        if subcategory:
            rows.append(index)
            targets.append(f"{label.category}|{subcategory}")
    if len(set(targets)) < 2:
        return None
    return LinearSVC(C=SVM_C, random_state=SEED).fit(matrix[rows], np.array(targets))


def _ai_pipeline(language_odds: dict[str, float]) -> Pipeline:
    return Pipeline([
        ("features", build_ai_vectoriser(language_odds)),
        ("model", LogisticRegression(C=AI_C, max_iter=5000)),
    ])


def _single_class_sources(labels: Sequence[LabeledRepo], is_ai: np.ndarray) -> np.ndarray:
    """Mask of rows whose labels source holds one class only (unnamed sources count as one)."""
    sources = np.array([label.source for label in labels], dtype=object)
    mask = np.zeros(len(labels), dtype=bool)
    for source in set(sources.tolist()):
        rows = sources == source
        mask[rows] = is_ai[rows].all() or not is_ai[rows].any()
    return mask


def _ai_sample_weights(single_class: np.ndarray, is_ai: np.ndarray) -> np.ndarray:
    """Down-weight single-class sources, then balance AI and non-AI; the mean weight is 1."""
    weights = np.where(single_class, SINGLE_CLASS_SOURCE_WEIGHT, 1.0)
    for side in (is_ai, ~is_ai):
        weights[side] *= 0.5 / weights[side].sum()
    return weights * len(weights)


def _ai_stage(columns: np.ndarray, is_ai: np.ndarray, single_class: np.ndarray) -> Pipeline:
    weights = _ai_sample_weights(single_class, is_ai)
    odds = language_log_odds(columns[:, LANGUAGE], is_ai, weights)
    return _ai_pipeline(odds).fit(columns, is_ai, model__sample_weight=weights)


def train_model(labels: Sequence[LabeledRepo]) -> TrainedModel:
    """Train the two-stage model (and the subcategory model) on ``labels``."""
    if not labels:
        raise ModelError("no labels to train on", "pass a labels file or keep the seed labels")
    # A fixed order makes the model independent of the order of the labels files.
    labels = sorted(labels, key=lambda label: (label.full_name.lower(), label.category))
    vectoriser = build_vectoriser()
    columns = feature_columns(labels)
    matrix = vectoriser.fit_transform(columns).tocsr()
    categories = np.array([label.category for label in labels])
    is_ai = categories != taxonomy.NOT_AI_CATEGORY
    ai_count, other_count = int(is_ai.sum()), int((~is_ai).sum())
    ai_stage = None
    if min(ai_count, other_count) >= MIN_ROWS_PER_SIDE:
        ai_stage = _ai_stage(columns, is_ai, _single_class_sources(labels, is_ai))
    category_stage = _fit(matrix[is_ai], categories[is_ai]) if ai_count else None
    counts = Counter(categories.tolist())
    fallback = (
        str(categories[is_ai][0]) if ai_count and category_stage is None
        else taxonomy.NOT_AI_CATEGORY
    )
    data_hash = training_fingerprint(labels)
    model = TrainedModel(
        vectoriser=vectoriser,
        ai_stage=ai_stage,
        category_stage=category_stage,
        subcategory_stage=_subcategory_stage(matrix, labels),
        fallback_category=fallback,
        metadata={
            "version": _version(data_hash),
            "data_hash": data_hash,
            "code_version": CODE_VERSION,
            "taxonomy_version": taxonomy.TAXONOMY_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "labels": len(labels),
            "label_counts": dict(sorted(counts.items())),
            "ai_stage": ai_stage is not None,
            "ai_decision": AI_DECISION,
            "ai_decision_at_training_share": AI_DECISION_AT_TRAINING_SHARE,
            "sklearn_version": sklearn.__version__,
        },
    )
    if category_stage is not None:
        coefficients = _mean_coefficients(category_stage)
        coefficients[:, ~_readable_features(vectoriser)] = 0.0
        model._category_coef = coefficients
        model._feature_names = np.array([
            name.split("__", 1)[1] for name in vectoriser.get_feature_names_out()
        ], dtype=object)
    if ai_stage is None:
        log.info("is-AI stage skipped: %d AI and %d non-AI labels", ai_count, other_count)
    return model


def _readable_features(vectoriser: ColumnTransformer) -> np.ndarray:
    """Mask of features worth naming in a rationale (words and meta tokens, not char n-grams)."""
    names = vectoriser.get_feature_names_out()
    return np.array([name.startswith(("words__", "meta__")) for name in names])
