"""Count-error sections of bench/classify.py: estimated counts, and a simulated review.

Count error = |count − gold| / gold per category, mean and worst over the five AI categories
(``classifier.quantify.COUNTED``); "labelled" counts the labels (classify and count), "estimated"
is ``quantify.COUNT_METHOD`` with the confusion measured by cross-validating each training set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from classifier import quantify
from classifier.estimation import (
    REVIEW_HEAD_SHARE,
    review_keys,
    review_order,
    review_ranking,
)
from classifier.labels import LabeledRepo
from classifier.model import TrainedModel, train_model

REVIEW_STEPS = (0, 50, 100, 200, 400)  # confirmations per 1,000 repositories


@dataclass
class FoldCounts:
    gold: np.ndarray
    labelled: np.ndarray
    estimated: dict[str, np.ndarray]  # per method


def _vector(categories: Sequence[str]) -> np.ndarray:
    return np.bincount(quantify.category_index(categories), minlength=len(quantify.CATEGORIES))


def count_fold(model: TrainedModel, training: Sequence[LabeledRepo],
               held_out: Sequence[LabeledRepo],
               validation: quantify.Validation | None = None) -> FoldCounts:
    """Gold, labelled and estimated (every method) counts of ``held_out``; ``validation``
    defaults to cross-validating ``training``."""
    texts = [label.as_text() for label in held_out]
    predictions = model.predict(texts, ai_prior=model.estimate_ai_prior(texts))
    validation = validation or quantify.cross_validate(training)
    probabilities = model.probabilities(texts)
    return FoldCounts(
        gold=_vector([label.category for label in held_out]),
        labelled=_vector([p.category for p in predictions]),
        estimated={m: quantify.estimate_counts(m, probabilities, validation)
                   for m in quantify.METHODS},
    )


def errors(counts: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    return quantify.count_error(dict(zip(quantify.CATEGORIES, counts, strict=True)),
                                dict(zip(quantify.CATEGORIES, gold, strict=True)))


def _ratios(counts: np.ndarray, gold: np.ndarray) -> str:
    index = {c: i for i, c in enumerate(quantify.CATEGORIES)}
    return "  ".join(f"{c[:9]} {counts[index[c]] / max(gold[index[c]], 1):.2f}×"
                     for c in quantify.COUNTED)


def print_counts(name: str, folds: Sequence[FoldCounts],
                 baseline: np.ndarray | None = None) -> None:
    """Counts summed over the folds (each fold estimated on its own), errors per method."""
    gold = sum(f.gold for f in folds)
    rows = [("labelled (classify and count)", sum(f.labelled for f in folds))]
    if baseline is not None:
        rows.insert(0, ("baseline TF-IDF + LR, labelled", baseline))
    rows += [(f"estimated {m}" + (" (chosen)" if m == quantify.COUNT_METHOD else ""),
              sum(f.estimated[m] for f in folds)) for m in quantify.METHODS]
    print(f"\ncount error, {name} (gold: " + ", ".join(
        f"{c} {gold[quantify.CATEGORIES.index(c)]}" for c in quantify.COUNTED) + ")")
    for label, counts in rows:
        mean, worst = errors(counts, gold)
        print(f"  {label:<34}mean {mean:.3f}  worst {worst:.3f}   {_ratios(counts, gold)}")
    if len(folds) > 1:
        per_fold = [errors(f.estimated[quantify.COUNT_METHOD], f.gold) for f in folds]
        print(f"  {quantify.COUNT_METHOD} per fold (about {int(folds[0].gold.sum())} repos each):"
              f" mean of means {np.mean([m for m, _ in per_fold]):.3f}, "
              f"mean of worsts {np.mean([w for _, w in per_fold]):.3f}")


# --- simulated review ----------------------------------------------------------------------------


Order = Callable[[np.ndarray, np.ndarray, quantify.Validation, int], np.ndarray]


def queue_order(population: Sequence[LabeledRepo], salt: int = 0,
                head_share: float = REVIEW_HEAD_SHARE) -> Order:
    """The product's order (classifier/estimation.py: review_order): by review score for the
    first ``head_share``, then a fixed pseudo-random order. The product keys each repository by
    its id; here by its name and ``salt``, each salt one draw of the calibration sample.
    ``head_share=1`` is the score order all the way (the queue before its calibration sample)."""
    keys = review_keys([label.full_name.lower() for label in population], salt=f"{salt}:")

    def order(probabilities: np.ndarray, confirmed: np.ndarray,
              validation: quantify.Validation, count: int) -> np.ndarray:
        _, scores = review_ranking(quantify.COUNT_METHOD, probabilities, validation, confirmed)
        return review_order(scores, confirmed, keys, head_share)[:count]
    return order


def random_order(seed: int = 0) -> Order:
    def order(probabilities: np.ndarray, confirmed: np.ndarray,
              validation: quantify.Validation, count: int) -> np.ndarray:
        permutation = np.random.default_rng(seed).permutation(len(probabilities))
        return np.array([i for i in permutation if confirmed[i] < 0][:count], dtype=int)
    return order


def simulate_review(population: Sequence[LabeledRepo], seeds: Sequence[LabeledRepo],
                    shipped: TrainedModel, seed_validation: quantify.Validation,
                    order: Order) -> ReviewResults:
    """Confirm repositories in ``order`` (the population's labels answer) and do what the
    product does after each batch: retrain on seeds plus the answers (human overrides),
    cross-validate that training set for the measured confusion, re-estimate. Returns
    (confirmations, estimated mean/worst, labelled mean/worst) per step of REVIEW_STEPS (per
    1,000 repositories)."""
    texts = [label.as_text() for label in population]
    true = quantify.category_index([label.category for label in population])
    gold = np.bincount(true, minlength=len(quantify.CATEGORIES))
    confirmed = np.full(len(population), -1)
    model, validation = shipped, seed_validation
    probabilities = model.probabilities(texts)
    results = []
    for step in REVIEW_STEPS:
        target = round(step * len(population) / 1000)
        missing = target - int((confirmed >= 0).sum())
        if missing > 0:
            batch = order(probabilities, confirmed, validation, missing)
            confirmed[batch] = true[batch]
            training = _with_overrides(seeds, population, confirmed)
            model, validation = train_model(training), quantify.cross_validate(training)
            probabilities = model.probabilities(texts)
        estimated = quantify.estimate_counts(quantify.COUNT_METHOD, probabilities, validation,
                                             confirmed)
        labelled = _labelled_counts(model, texts, confirmed)
        results.append((step, *errors(estimated, gold), *errors(labelled, gold)))
    return results


def _with_overrides(seeds: Sequence[LabeledRepo], population: Sequence[LabeledRepo],
                    confirmed: np.ndarray) -> list[LabeledRepo]:
    """The product's training set after a review: the seeds, each answer a human override."""
    answered = [population[i] for i in np.flatnonzero(confirmed >= 0)]
    names = {label.full_name.lower() for label in answered}
    kept = [label for label in seeds if label.full_name.lower() not in names]
    return kept + [replace(label, source="human-override") for label in answered]


def _labelled_counts(model: TrainedModel, texts: Sequence, confirmed: np.ndarray) -> np.ndarray:
    predictions = model.predict(texts, ai_prior=model.estimate_ai_prior(texts))
    labels = quantify.category_index([p.category for p in predictions])
    labels = np.where(confirmed >= 0, confirmed, labels)
    return np.bincount(labels, minlength=len(quantify.CATEGORIES))


ReviewResults = list[tuple[int, float, float, float, float]]


def median_results(runs: Sequence[ReviewResults]) -> ReviewResults:
    """Per step, the median of each figure over several runs (e.g. random orders of several
    seeds: one random order is a draw, not a measure)."""
    return [(steps[0][0], *(float(np.median([s[k] for s in steps])) for k in range(1, 5)))
            for steps in zip(*runs, strict=True)]


def print_review(name: str, results: Sequence[tuple[int, float, float, float, float]],
                 population: int) -> None:
    print(f"  {name} (confirmations per 1,000 repositories: {population} repos here)")
    for step, mean, worst, labelled_mean, labelled_worst in results:
        print(f"    {step:>4}/1000  estimated mean {mean:.3f} worst {worst:.3f}   "
              f"labelled mean {labelled_mean:.3f} worst {labelled_worst:.3f}")
