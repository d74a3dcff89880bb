"""The warehouse's estimated counts and the review queue's order, after a classification run.

``classifier/quantify.py`` holds the method; this module applies it to the active repositories of
the warehouse, stores the estimates with the model version (``warehouse/estimates.py``), and
stores each repository's probabilities with a review score: how much confirming its label is
expected to improve the counts directly (``review_score``), and its place in the queue
(``review_rank``, see ``review_order``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import polars as pl

from classifier import quantify, taxonomy
from classifier.labels import LabeledRepo, RepoText
from classifier.model import TrainedModel
from classifier.quantify import (
    CATEGORIES,
    COUNT_METHOD,
    COUNTED,
    INTERVAL_LEVEL,
    REPLICATES,
    Method,
    MonthlyEstimate,
    Validation,
    cross_validate,
    estimate_monthly,
    month_number,
    month_start,
    repo_distributions,
)
from warehouse.db import fetch_dicts
from warehouse.estimates import EstimateRun, save_estimates, save_probabilities

log = logging.getLogger(__name__)

# The queue orders by direct effect until this share of the repositories is human-confirmed, then
# in a fixed pseudo-random order: a calibration sample (see ``review_order``).
REVIEW_HEAD_SHARE = 0.05
VALIDATION_FILE = "validation-2.joblib"  # 2: sources that measure (cpcc)
# Cross-validating a model costs a few trainings: keep each model version's result in memory too.
_VALIDATIONS: dict[str, Validation] = {}


def model_validation(model: TrainedModel, labels: Sequence[LabeledRepo],
                     models_dir: Path | None = None) -> Validation:
    """Cross-validated predictions of the labels ``model`` was trained on, computed once per
    model version and kept beside the model (``<models_dir>/<version>/validation.joblib``)."""
    if model.version in _VALIDATIONS:
        return _VALIDATIONS[model.version]
    path = models_dir / model.version / VALIDATION_FILE if models_dir is not None else None
    validation = _load(path)
    if validation is None:
        log.info("cross-validating model %s for its count estimates", model.version)
        validation = cross_validate(labels)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            joblib.dump(validation, path, compress=3)
    _VALIDATIONS[model.version] = validation
    return validation


def _load(path: Path | None) -> Validation | None:
    if path is None or not path.is_file():
        return None
    try:
        loaded = joblib.load(path)
    except Exception:  # a damaged cache file is recomputed, not fatal
        log.warning("cannot read %s; cross-validating again", path)
        return None
    return loaded if isinstance(loaded, Validation) else None


def population_rows(con: Any) -> list[dict[str, Any]]:
    """Every active repository with what the classifier reads and its label in force."""
    return fetch_dicts(con, """
        SELECT id, full_name, description, language, topics, stars, created_at, readme_excerpt,
               category, method
        FROM labelled_repositories WHERE status = 'active' ORDER BY id
    """)


def confirmed_categories(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """The category index of each human-labelled repository, -1 for the others."""
    return np.array([
        CATEGORIES.index(row["category"]) if row["method"] == "human" else -1 for row in rows
    ], dtype=int)


def estimate_and_store(
    con: Any,
    model: TrainedModel,
    validation: Validation,
    rows: Sequence[dict[str, Any]],
    texts: Sequence[RepoText],
    *,
    method: Method = COUNT_METHOD,
    replicates: int = REPLICATES,
    at: datetime | None = None,
) -> EstimateRun | None:
    """Estimate the counts of ``rows`` (``texts`` is what the model reads of each), store them
    and the review scores; None when there is nothing to count."""
    if not rows:
        return None
    at = at or datetime.now()
    probabilities = model.probabilities(texts)
    confirmed = confirmed_categories(rows)
    dated = np.array([row["created_at"] is not None for row in rows], dtype=bool)
    months = np.array([month_number(row["created_at"]) if row["created_at"] else 0
                       for row in rows], dtype=int)
    result = estimate_monthly(method, probabilities[dated], months[dated], validation,
                              confirmed=confirmed[dated], replicates=replicates)
    run = EstimateRun(
        model_version=model.version, method=method, computed_at=at, repos=int(dated.sum()),
        human_confirmed=int((confirmed >= 0).sum()), validation_rows=len(validation.true),
        interval_level=INTERVAL_LEVEL, replicates=replicates,
    )
    save_estimates(con, run, estimate_frame(result))
    save_probabilities(con, _probability_frame(
        rows, probabilities, confirmed, result, validation, model.version, at))
    log.info("estimated counts of %d repositories with %s (model %s, %d human-confirmed)",
             run.repos, method, model.version, run.human_confirmed)
    return run


def estimate_frame(result: MonthlyEstimate) -> pl.DataFrame:
    """The estimates as rows of month × category."""
    months = [month_start(int(number)) for number in result.months]
    records = []
    for row, month in enumerate(months):
        for column, category in enumerate(CATEGORIES):
            records.append({
                "month": month, "layer": taxonomy.layer_of(category), "category": category,
                "estimate": result.estimate[row, column], "lo": result.lo[row, column],
                "hi": result.hi[row, column],
                "cumulative_estimate": result.cumulative[row, column],
                "cumulative_lo": result.cumulative_lo[row, column],
                "cumulative_hi": result.cumulative_hi[row, column],
            })
    return pl.DataFrame(records, schema={
        "month": pl.Date, "layer": pl.String, "category": pl.String,
        **{name: pl.Float64 for name in ("estimate", "lo", "hi", "cumulative_estimate",
                                         "cumulative_lo", "cumulative_hi")},
    })


def review_scores(distributions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Expected effect of confirming each repository on the relative count error: for every
    counted category, the expected change of its count (a confirmation turns a probability q
    into 0 or 1: E|change| = 2q(1 − q)) divided by the category's estimated count."""
    columns = [CATEGORIES.index(category) for category in COUNTED]
    q = distributions[:, columns]
    weights = 1.0 / np.maximum(counts[columns], 1.0)
    return (2.0 * q * (1.0 - q) * weights).sum(axis=1)


def review_ranking(method: Method, probabilities: np.ndarray, validation: Validation,
                   confirmed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each repository's probabilities moved to the estimated shares (a confirmed one's known
    category: probability 1) and its review score (0 once confirmed)."""
    open_rows = confirmed < 0
    shares = quantify.estimate_shares(method, probabilities, validation)
    distributions = np.eye(len(CATEGORIES))[np.maximum(confirmed, 0)]
    distributions[open_rows] = quantify.fit_margins(
        repo_distributions(method, probabilities, shares, validation), shares)[open_rows]
    counts = quantify.estimate_counts(method, probabilities, validation, confirmed)
    return distributions, np.where(open_rows, review_scores(distributions, counts), 0.0)


def review_keys(identities: Sequence[object], salt: str = "") -> np.ndarray:
    """A fixed uniform number in [0, 1) per repository (a hash of its id): the order of the
    queue's calibration sample, the same in every run and on every machine."""
    def key(identity: object) -> float:
        digest = hashlib.blake2b(f"{salt}{identity}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64
    return np.array([key(identity) for identity in identities], dtype=float)


def review_order(scores: np.ndarray, confirmed: np.ndarray, keys: np.ndarray,
                 head_share: float = REVIEW_HEAD_SHARE) -> np.ndarray:
    """The queue: indices of the open repositories, first to confirm first.

    The head goes by review score (the largest direct effect on the counts) until
    ``head_share`` of all repositories is human-confirmed; the rest follows ``keys``, i.e. a
    random sample. Why: once the most uncertain repositories are settled, what the counts lack
    is the error rate of the confident ones the queue would otherwise never reach, and only
    answers drawn without regard to confidence measure it (the recalibration learns from every
    answer). In the simulated review (bench/classify.py) this order's count error after 50 / 100
    / 200 confirmations per 1,000 was 4.7 / 4.5 / 4.6% (median of 5 draws), the score order's
    4.7 / 8.3 / 6.7%."""
    open_rows = np.flatnonzero(confirmed < 0)
    head_size = max(0, round(head_share * len(confirmed)) - int((confirmed >= 0).sum()))
    by_score = open_rows[np.argsort(-scores[open_rows], kind="stable")]
    head = by_score[:head_size]
    rest = np.setdiff1d(open_rows, head, assume_unique=True)
    return np.concatenate([head, rest[np.argsort(keys[rest], kind="stable")]]).astype(int)


def _probability_frame(
    rows: Sequence[dict[str, Any]],
    probabilities: np.ndarray,
    confirmed: np.ndarray,
    result: MonthlyEstimate,
    validation: Validation,
    model_version: str,
    at: datetime,
) -> pl.DataFrame:
    distributions, scores = review_ranking(result.method, probabilities, validation, confirmed)
    ranks = np.full(len(rows), None, dtype=object)
    order = review_order(scores, confirmed, review_keys([row["id"] for row in rows]))
    ranks[order] = np.arange(1, len(order) + 1)
    return pl.DataFrame({
        "repo_id": [row["id"] for row in rows],
        "model_version": model_version,
        "categories": [list(CATEGORIES)] * len(rows),
        "probabilities": distributions.round(4).tolist(),
        "review_score": scores,
        "review_rank": ranks.tolist(),
        "computed_at": at,
    })
