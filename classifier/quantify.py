"""How many repositories each category holds: count estimation ("quantification") with intervals.

Classify-and-count inherits every confusion of the classifier: when it mistakes 30% of the
infrastructure repositories for app-development and few the other way, the infrastructure count
is too low by that much. The quantification literature corrects counts with what is measured of
the classifier out of sample:

- ``cc``: count the labels (what the warehouse's labelled counts are);
- ``pcc``: sum the calibrated probabilities (Bella et al. 2010);
- ``acc``: the label counts corrected by the confusion matrix P(label j | true i) (Forman 2008);
- ``pacc``: the probability sums corrected by the mean probabilities per true class (Bella 2010);
- ``sld``: the probabilities moved to the population's class shares by EM (Saerens, Latinne and
  Decaestecker 2002), the procedure ``classifier/prior.py`` already uses for the AI share;
- ``cpcc`` (calibrated probabilistic classify and count, the one the product uses): the "is AI"
  probabilities moved to the population's AI share by that same EM, times the probabilities of
  each category given AI *recalibrated* on the measured rows (a multinomial logistic regression
  on their logarithms, fitted on the cross-validated predictions of labelled AI repositories),
  summed. Recalibration corrects a classifier that systematically over- or under-calls a category
  (it counted models 1.2–1.3× in cross-validation); unlike acc it inverts no confusion matrix,
  which is what made acc's per-batch error large (0.27 mean on batches of 226 repositories, 0.08
  for cpcc). It assumes the categories are mixed among AI repositories about as in the measured
  labels; ``sld`` and ``acc`` remain for a population whose mix is far from theirs.

Which labels measure. For cpcc's recalibration (one fit over all AI categories, so one set of
rows): labels files drawn like the counted population (lists of AI repositories), with the human
overrides, once 200 such AI labels exist; else the seeds and the overrides together. Seeds are
written as clear examples, overrides are the repositories the review queue found uncertain:
alone, each misleads the fit (measured in the simulated review), together they span both kinds.
For acc and pacc (a confusion per true class): the labels files where a class has 20 labels,
else the overrides too, else the seeds too (overrides, chosen for being uncertain, overstate the
confusion: acc over-corrected 3× on them). A labels source that is mostly not AI (a ranking of
every popular repository) measures the "is AI" decision, but not the categories: its few AI
repositories are the famous ones of each language, which the classifier confuses differently
(models counted 0.48× there, 1.4× on the lists).

Everything measured comes from a ``Validation``: cross-validated predictions of the training
labels (``cross_validate``), so never from rows the predicting model saw. Probabilities are taken
at the training share (``TrainedModel.probabilities``), not at a population's estimated AI share,
so that the validation and the population are scored by the same fixed classifier.

Intervals (``estimate_monthly``): a bootstrap. Each replicate resamples the validation rows
(stratified by true class: the uncertainty of the measured confusion) and the counted
repositories (the sampling noise of their labels), re-estimates the class shares from both, and
draws one category per repository from its probabilities adjusted to those shares (the
multinomial uncertainty of which repositories are in a class; each month keeps its number of
repositories; cpcc refits its recalibration in every replicate). The 5th and 95th percentiles
of the replicates, per month and category, bound the 90% interval. Human-confirmed repositories
count as certain.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Literal, get_args

import numpy as np
from scipy.optimize import nnls
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from classifier import prior, taxonomy
from classifier.labels import SEED_SOURCE, LabeledRepo
from classifier.model import AI_DECISION_AT_TRAINING_SHARE, TrainedModel, train_model

log = logging.getLogger(__name__)

CATEGORIES: tuple[str, ...] = tuple(taxonomy.CATEGORIES)
NOT_AI = CATEGORIES.index(taxonomy.NOT_AI_CATEGORY)
# The categories a chart of the AI stack counts (the count error is measured over these five).
COUNTED: tuple[str, ...] = (
    "applications", "app-development", "models", "model-development", "infrastructure",
)
Method = Literal["cc", "pcc", "acc", "pacc", "sld", "cpcc"]
METHODS: tuple[Method, ...] = get_args(Method)
COUNT_METHOD: Method = "cpcc"
VALIDATION_FOLDS = 5
SEED = 0
EM_ITERATIONS = 500
EM_TOLERANCE = 1e-7
SHARE_FLOOR = 1e-6  # a share of exactly 0 would make every later Bayes update certain
# Weight of the "shares sum to one" row in the constrained least squares of acc/pacc
SUM_WEIGHT = 10.0
# Labels of real repositories a class needs before they alone measure its confusion
MIN_MEASURING_ROWS = 20
# Labels that teach the model but do not measure it: the seeds, written as clear examples
TEACHING_SOURCES = frozenset({SEED_SOURCE})
OVERRIDE_SOURCE = "human-override"  # classifier/service.py trains on overrides as this source
# A labels source with a smaller AI share than this was not drawn like the counted population
# (lists of AI repositories): it measures the "is AI" decision only (see the module docstring)
MIN_SOURCE_AI_SHARE = 0.5
# AI labels of the counted kind of population needed before they alone calibrate cpcc
MIN_CALIBRATION_ROWS = 200
# Inverse regularisation of the category recalibration (cpcc); 0.1–10 measured alike
RECALIBRATION_C = 1.0


def category_index(categories: Sequence[str]) -> np.ndarray:
    return np.array([CATEGORIES.index(category) for category in categories], dtype=int)


def hard_labels(probabilities: np.ndarray,
                cut: float = AI_DECISION_AT_TRAINING_SHARE) -> np.ndarray:
    """The label the model's own rule gives at the training share: not AI below the cut on
    P(AI), else the likeliest AI category (a rule's one-hot row keeps its category)."""
    ai_part = probabilities.copy()
    ai_part[:, NOT_AI] = -1.0
    labels = ai_part.argmax(axis=1)
    not_ai = (1.0 - probabilities[:, NOT_AI]) < cut
    labels[not_ai] = NOT_AI
    return labels


@dataclass(frozen=True)
class Validation:
    """Out-of-sample predictions of labelled repositories: what is known of a model's errors."""

    true: np.ndarray  # (n,) category indices
    probabilities: np.ndarray  # (n, K) at the training share
    training_prior: np.ndarray  # (K,) the class shares the probabilities are calibrated for
    # (n,) True for labels written to teach the model (the seeds)
    teaching: np.ndarray | None = None
    # (n,) True for labels of a source drawn unlike the counted population (mostly not AI)
    foreign: np.ndarray | None = None
    # (n,) True for human overrides: repositories of the population the review queue chose
    selected: np.ndarray | None = None

    @property
    def predicted(self) -> np.ndarray:
        return hard_labels(self.probabilities)

    def _mask(self, mask: np.ndarray | None) -> np.ndarray:
        return np.zeros(len(self.true), dtype=bool) if mask is None else mask

    def measuring(self) -> np.ndarray:
        """Mask of the rows that measure the confusion (acc, pacc), chosen per true class: the
        labels sampled from the counted kind of population (neither seeds, foreign nor
        overrides, which the queue chose for being uncertain) when MIN_MEASURING_ROWS of them
        exist, else every label but seeds and overrides when that many exist, else every row
        of the class (see the module docstring)."""
        teaching, foreign = self._mask(self.teaching), self._mask(self.foreign)
        selected = self._mask(self.selected)
        mask = np.zeros(len(self.true), dtype=bool)
        for index in np.unique(self.true):
            members = self.true == index
            tiers = (members & ~teaching & ~foreign & ~selected, members & ~teaching & ~selected)
            chosen = next((tier for tier in tiers if tier.sum() >= MIN_MEASURING_ROWS), members)
            mask |= chosen
        return mask

    def calibration_rows(self) -> np.ndarray:
        """Mask of the AI rows cpcc's recalibration is fitted on, chosen for all classes at once
        (its intercepts learn their class mix): labels sampled from the counted kind of
        population, with the overrides, when MIN_CALIBRATION_ROWS sampled ones exist; else
        everything but foreign labels (seeds and overrides together: the overrides are the
        uncertain repositories, the seeds the clear ones); rule-decided rows never."""
        teaching, foreign = self._mask(self.teaching), self._mask(self.foreign)
        selected = self._mask(self.selected)
        ai = (self.true != NOT_AI) & ~_certain(self.probabilities)
        if (ai & ~teaching & ~foreign & ~selected).sum() >= MIN_CALIBRATION_ROWS:
            return ai & ~teaching & ~foreign
        return ai & ~foreign if (ai & ~foreign).any() else ai

    @cached_property
    def recalibration(self) -> CategoryRecalibration:
        """P(category | AI) recalibrated on ``calibration_rows`` (cpcc)."""
        rows = self.calibration_rows()
        return CategoryRecalibration.fit(self.probabilities[rows], self.true[rows])

    def confusion(self) -> np.ndarray:
        """P(label j | true i); a class without validation rows is assumed never confused."""
        return self._per_class(np.eye(len(CATEGORIES))[self.predicted])

    def mean_probabilities(self) -> np.ndarray:
        """Mean probability vector of the repositories of each true class."""
        return self._per_class(self.probabilities)

    def _per_class(self, rows: np.ndarray) -> np.ndarray:
        result = np.eye(len(CATEGORIES))
        measuring = self.measuring()
        for index in range(len(CATEGORIES)):
            members = (self.true == index) & measuring
            if members.any():
                result[index] = rows[members].mean(axis=0)
        return result

    def resample(self, rng: np.random.Generator) -> Validation:
        """A bootstrap replicate of the measuring rows, resampled within each true class."""
        rows = np.flatnonzero(self.measuring())
        picks = [
            rng.choice(rows[self.true[rows] == index], size=int((self.true[rows] == index).sum()))
            for index in np.unique(self.true[rows])
        ]
        chosen = np.concatenate(picks)
        return Validation(self.true[chosen], self.probabilities[chosen], self.training_prior)


AI_COLUMNS = np.array([index for index in range(len(CATEGORIES)) if index != NOT_AI])


def _certain(probabilities: np.ndarray) -> np.ndarray:
    """Rows a rule decided (probability 1 for one category): never recalibrated."""
    return probabilities.max(axis=1) >= 1.0


def _given_ai(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(AI) and P(category | AI) over the AI categories (``AI_COLUMNS`` order)."""
    ai = 1.0 - probabilities[:, NOT_AI]
    given = probabilities[:, AI_COLUMNS] / np.maximum(ai, 1e-12)[:, None]
    return ai, given


@dataclass(frozen=True)
class CategoryRecalibration:
    """A multinomial logistic regression from log P(category | AI) to the true AI category;
    None inside when the measured rows hold fewer than two AI categories (then identity)."""

    model: LogisticRegression | None

    @classmethod
    def fit(cls, probabilities: np.ndarray, true: np.ndarray) -> CategoryRecalibration:
        if len(np.unique(true)) < 2:
            return cls(None)
        _, given = _given_ai(probabilities)
        target = np.searchsorted(AI_COLUMNS, true)
        model = LogisticRegression(C=RECALIBRATION_C, solver="newton-cholesky", max_iter=200)
        return cls(model.fit(_log(given), target))

    def apply(self, given: np.ndarray) -> np.ndarray:
        """Recalibrated P(category | AI) (rows sum to one, ``AI_COLUMNS`` order)."""
        if self.model is None or len(given) == 0:
            return given
        result = np.zeros_like(given)
        result[:, self.model.classes_] = self.model.predict_proba(_log(given))
        return result


def _log(given: np.ndarray) -> np.ndarray:
    return np.log(np.clip(given, 1e-6, 1.0))


def training_prior(labels: Sequence[LabeledRepo], has_ai_stage: bool) -> np.ndarray:
    """The shares the model's probabilities hold for: the "is AI" stage is trained half AI, the
    category stage on the AI labels as they come."""
    categories = category_index([label.category for label in labels])
    ai = categories[categories != NOT_AI]
    prior = np.bincount(ai, minlength=len(CATEGORIES)).astype(float)
    prior /= max(prior.sum(), 1.0)
    if has_ai_stage:
        prior *= 0.5
        prior[NOT_AI] = 0.5
    return np.maximum(prior, SHARE_FLOOR) / np.maximum(prior, SHARE_FLOOR).sum()


Trainer = Callable[[Sequence[LabeledRepo]], TrainedModel]


def cross_validate(labels: Sequence[LabeledRepo], *, folds: int = VALIDATION_FOLDS,
                   trainer: Trainer = train_model) -> Validation:
    """Out-of-fold probabilities of every training label (folds stratified by category)."""
    labels = sorted(labels, key=lambda label: (label.full_name.lower(), label.category))
    true = category_index([label.category for label in labels])
    probabilities = np.zeros((len(labels), len(CATEGORIES)))
    # A class rarer than the folds is simply missing from some of them (sklearn warns; fine).
    splitter = StratifiedKFold(max(2, min(folds, len(labels))), shuffle=True, random_state=SEED)
    has_ai_stage = True
    for train, test in splitter.split(np.zeros(len(labels)), true):
        model = trainer([labels[i] for i in train])
        has_ai_stage = has_ai_stage and model.ai_stage is not None
        probabilities[test] = model.probabilities([labels[i].as_text() for i in test])
    sources = [label.source for label in labels]
    return Validation(
        true, probabilities, training_prior(labels, has_ai_stage),
        teaching=np.array([source in TEACHING_SOURCES for source in sources], dtype=bool),
        foreign=foreign_sources(labels),
        selected=np.array([source == OVERRIDE_SOURCE for source in sources], dtype=bool),
    )


def foreign_sources(labels: Sequence[LabeledRepo]) -> np.ndarray:
    """Mask of labels whose source (other than the seeds) is mostly not AI."""
    sources = np.array([label.source for label in labels], dtype=object)
    is_ai = np.array([label.category != taxonomy.NOT_AI_CATEGORY for label in labels])
    foreign = np.zeros(len(labels), dtype=bool)
    for source in set(sources.tolist()) - TEACHING_SOURCES - {OVERRIDE_SOURCE}:
        rows = sources == source
        foreign[rows] = is_ai[rows].mean() < MIN_SOURCE_AI_SHARE
    return foreign


# --- point estimates of the class shares --------------------------------------------------------


def _normalise(shares: np.ndarray) -> np.ndarray:
    shares = np.clip(shares, 0.0, None)
    total = shares.sum()
    return shares / total if total > 0 else np.full(len(shares), 1.0 / len(shares))


def _solve_adjustment(measured: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Shares π ≥ 0 summing to one with measuredᵀ π closest to ``observed`` (least squares)."""
    system = np.vstack([measured.T, SUM_WEIGHT * np.ones(len(observed))])
    target = np.concatenate([observed, [SUM_WEIGHT]])
    shares, _ = nnls(system, target)
    return _normalise(shares)


def adjust_to(probabilities: np.ndarray, shares: np.ndarray,
              training: np.ndarray) -> np.ndarray:
    """Bayes' rule: probabilities calibrated for ``training`` shares → for ``shares``."""
    weighted = probabilities * (np.maximum(shares, SHARE_FLOOR) / training)
    return weighted / np.maximum(weighted.sum(axis=1, keepdims=True), 1e-12)


def _sld(probabilities: np.ndarray, training: np.ndarray) -> np.ndarray:
    shares = training.copy()
    for _ in range(EM_ITERATIONS):
        updated = adjust_to(probabilities, shares, training).mean(axis=0)
        if np.abs(updated - shares).max() < EM_TOLERANCE:
            return updated
        shares = updated
    return shares


def estimate_shares(method: Method, probabilities: np.ndarray,
                    validation: Validation) -> np.ndarray:
    """The class shares of the population whose probabilities are given, by ``method``."""
    if len(probabilities) == 0:
        return np.zeros(len(CATEGORIES))
    if method == "cc":
        return np.bincount(hard_labels(probabilities), minlength=len(CATEGORIES)) / len(
            probabilities)
    if method == "pcc":
        return probabilities.mean(axis=0)
    if method == "acc":
        counted = np.bincount(hard_labels(probabilities), minlength=len(CATEGORIES))
        return _solve_adjustment(validation.confusion(), counted / len(probabilities))
    if method == "pacc":
        return _solve_adjustment(validation.mean_probabilities(), probabilities.mean(axis=0))
    if method == "sld":
        return _sld(probabilities, validation.training_prior)
    if method == "cpcc":
        return calibrated_distributions(probabilities, validation).mean(axis=0)
    raise ValueError(f"unknown quantification method {method!r}; use one of {METHODS}")


def repo_distributions(method: Method, probabilities: np.ndarray, shares: np.ndarray,
                       validation: Validation) -> np.ndarray:
    """Each repository's probability of each category in a population with ``shares``: the
    unit that sums to counts per month (rows sum to one)."""
    if method == "cc":
        return np.eye(len(CATEGORIES))[hard_labels(probabilities)]
    if method == "pcc":
        return probabilities
    if method == "cpcc":
        return calibrated_distributions(probabilities, validation)
    return adjust_to(probabilities, shares, validation.training_prior)


def calibrated_distributions(probabilities: np.ndarray, validation: Validation) -> np.ndarray:
    """cpcc's probabilities: P(AI) moved to the population's AI share (EM), times the
    recalibrated P(category | AI); a rule's row stays as it is."""
    ai, given = _given_ai(probabilities)
    training_ai = 1.0 - float(validation.training_prior[NOT_AI])
    if 0.0 < training_ai < 1.0:
        ai = prior.adjust(ai, prior.estimate_prior(ai, training_ai), training_ai)
    result = np.zeros_like(probabilities)
    result[:, AI_COLUMNS] = ai[:, None] * validation.recalibration.apply(given)
    result[:, NOT_AI] = 1.0 - ai
    certain = _certain(probabilities)
    result[certain] = probabilities[certain]
    return result


def fit_margins(distributions: np.ndarray, shares: np.ndarray,
                iterations: int = 50) -> np.ndarray:
    """The repositories' distributions rescaled so that they add up to the estimated counts
    while each still sums to one (iterative proportional fitting)."""
    fitted = distributions.copy()
    target = shares * len(distributions)
    for _ in range(iterations):
        sums = fitted.sum(axis=0)
        fitted *= np.divide(target, sums, out=np.ones_like(sums), where=sums > 1e-9)
        fitted /= np.maximum(fitted.sum(axis=1, keepdims=True), 1e-12)
    return fitted


def estimate_counts(method: Method, probabilities: np.ndarray, validation: Validation,
                    confirmed: np.ndarray | None = None) -> np.ndarray:
    """Estimated repositories per category (``CATEGORIES`` order); ``confirmed`` holds a
    category index for each repository a person labelled, -1 for the others (see
    ``contributions``)."""
    confirmed = _confirmed(confirmed, len(probabilities))
    open_rows = confirmed < 0
    known = np.bincount(confirmed[~open_rows], minlength=len(CATEGORIES)).astype(float)
    share_of_count, _ = contributions(method, probabilities, validation)
    return known + share_of_count[open_rows].sum(axis=0)


def contributions(method: Method, probabilities: np.ndarray,
                  validation: Validation) -> tuple[np.ndarray, np.ndarray]:
    """Each repository's expected contribution to each category's count, and the shares.

    The shares are estimated over every repository (a person's answers do not change which
    repositories exist, and selecting the uncertain ones for review would bias a correction
    measured on all of them); each repository's probabilities are moved to those shares and
    scaled so that they add up to them. A human-confirmed repository then swaps its expected
    contribution for its known category: with none confirmed the estimate is the method's,
    with all confirmed it is exact.
    """
    shares = estimate_shares(method, probabilities, validation)
    distributions = repo_distributions(method, probabilities, shares, validation)
    return fit_margins(distributions, shares), shares


def _confirmed(confirmed: np.ndarray | None, size: int) -> np.ndarray:
    return np.full(size, -1, dtype=int) if confirmed is None else np.asarray(confirmed, int)


@dataclass(frozen=True)
class MonthlyEstimate:
    """Estimated counts per month (rows, ``months`` order) and category (columns): new
    repositories and running totals, each with its interval."""

    months: np.ndarray
    estimate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cumulative: np.ndarray
    cumulative_lo: np.ndarray
    cumulative_hi: np.ndarray
    method: Method
    shares: np.ndarray  # estimated shares of all the repositories counted


INTERVAL_LEVEL = 0.9
REPLICATES = 200


def month_number(day: date) -> int:
    """A month as one integer (consecutive months are consecutive numbers)."""
    return day.year * 12 + day.month - 1


def month_start(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def estimate_monthly(
    method: Method,
    probabilities: np.ndarray,
    months: np.ndarray,
    validation: Validation,
    *,
    confirmed: np.ndarray | None = None,
    replicates: int = REPLICATES,
    level: float = INTERVAL_LEVEL,
    seed: int = SEED,
) -> MonthlyEstimate:
    """Estimated new and cumulative repositories per month and category with a ``level``
    interval (bootstrap: see the module docstring). ``months`` holds each repository's
    creation month as a month number (``month_number``); the result runs through every month
    from the first to the last."""
    confirmed = _confirmed(confirmed, len(probabilities))
    months = np.asarray(months, dtype=int)
    first = int(months.min()) if len(months) else 0
    calendar = np.arange(first, int(months.max()) + 1 if len(months) else 0)
    month_of = months - first
    open_rows = confirmed < 0
    known = _month_counts(month_of[~open_rows], confirmed[~open_rows], len(calendar))
    share_of_count, shares = contributions(method, probabilities, validation)
    estimate = known + _month_sums(month_of[open_rows], share_of_count[open_rows],
                                   len(calendar))
    rng = np.random.default_rng(seed)
    draws = np.stack([
        known + _replicate(method, probabilities, open_rows, month_of[open_rows],
                           validation.resample(rng), len(calendar), rng)
        for _ in range(replicates)
    ]) if replicates else estimate[None]
    tail = (1.0 - level) / 2 * 100
    cumulative_draws = draws.cumsum(axis=1)
    return MonthlyEstimate(
        months=calendar, estimate=estimate,
        lo=np.minimum(np.percentile(draws, tail, axis=0), estimate),
        hi=np.maximum(np.percentile(draws, 100 - tail, axis=0), estimate),
        cumulative=estimate.cumsum(axis=0),
        cumulative_lo=np.minimum(np.percentile(cumulative_draws, tail, axis=0),
                                 estimate.cumsum(axis=0)),
        cumulative_hi=np.maximum(np.percentile(cumulative_draws, 100 - tail, axis=0),
                                 estimate.cumsum(axis=0)),
        method=method, shares=shares,
    )


def _replicate(method: Method, probabilities: np.ndarray, open_rows: np.ndarray,
               month_of: np.ndarray, validation: Validation, months: int,
               rng: np.random.Generator) -> np.ndarray:
    """One bootstrap replicate of the open repositories' counts per month: shares re-estimated
    from resampled repositories with a resampled validation, then one category drawn per open
    repository from its probabilities moved to those shares."""
    if not open_rows.any():
        return np.zeros((months, len(CATEGORIES)))
    resampled = rng.integers(0, len(probabilities), len(probabilities))
    shares = estimate_shares(method, probabilities[resampled], validation)
    distributions = fit_margins(repo_distributions(method, probabilities, shares, validation),
                                shares, iterations=10)
    cumulative = distributions[open_rows].cumsum(axis=1)
    drawn = (rng.random(len(cumulative))[:, None] > cumulative[:, :-1]).sum(axis=1)
    return _month_counts(month_of, drawn, months)


def _month_counts(month_of: np.ndarray, categories: np.ndarray, months: int) -> np.ndarray:
    flat = np.bincount(month_of * len(CATEGORIES) + categories,
                       minlength=months * len(CATEGORIES))
    return flat.reshape(months, len(CATEGORIES)).astype(float)


def _month_sums(month_of: np.ndarray, values: np.ndarray, months: int) -> np.ndarray:
    sums = np.zeros((months, len(CATEGORIES)))
    np.add.at(sums, month_of, values)
    return sums


def count_error(estimated: dict[str, float], gold: dict[str, float],
                categories: Sequence[str] = COUNTED) -> tuple[float, float]:
    """Mean and worst |estimated − gold| / gold over ``categories`` (those with gold > 0)."""
    errors = [abs(estimated.get(c, 0.0) - gold[c]) / gold[c]
              for c in categories if gold.get(c, 0) > 0]
    return (float(np.mean(errors)), float(np.max(errors))) if errors else (0.0, 0.0)
