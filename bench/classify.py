"""Benchmark of the classifier on the reference dev files (5-fold CV, with and without seeds).

Prints, each both without and with the bundled seed labels (seed rows naming a test repository
are dropped, as ``stackatlas classifier eval`` drops gold rows):
- category/layer accuracy and macro-F1 of our classifier beside a TF-IDF + logistic regression
  baseline, 5-fold CV on labels_dev.tsv;
- "is AI" precision/recall on the ai_or_not_dev.tsv rows scored alone (5-fold CV over that file,
  stratified by AI/not, each fold trained on labels_dev.tsv plus the other folds);
- category accuracy on the labels_dev AI rows without and with ai_or_not_dev.tsv in training;
- throughput of prediction (median of 5 runs).
Each held-out fold is one batch whose AI share is estimated from its texts
(``classifier/prior.py``), as ``stackatlas classifier eval`` does for a gold file; a "no
AI-share estimate" row shows the figures at the training share (half AI) instead.
Run: .venv/bin/python bench/classify.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from classifier import quantify  # noqa: E402
from classifier.labels import LabeledRepo, load_seed_labels, read_labels  # noqa: E402
from classifier.model import train_model  # noqa: E402
from classifier.taxonomy import layer_of  # noqa: E402

FOLDS = 5


def _folds(labels: Sequence[LabeledRepo],
           by_ai: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds stratified by category, or by AI/not (as the "is AI" figures are measured)."""
    strata = [(label.category != "other") if by_ai else label.category for label in labels]
    splitter = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    return list(splitter.split(np.zeros(len(labels)), strata))


def _training(rows: list[LabeledRepo], seeds: list[LabeledRepo],
              held_out: list[LabeledRepo]) -> list[LabeledRepo]:
    """Seeds plus rows (rows win on a clash), minus every held-out repository (as the CLI does)."""
    held_out_names = {label.full_name.lower() for label in held_out}
    by_name = {label.full_name.lower(): label for label in seeds}
    by_name.update((label.full_name.lower(), label) for label in rows)
    return [label for name, label in by_name.items() if name not in held_out_names]


def cv_ours(pool: list[LabeledRepo], extra: list[LabeledRepo],
            seeds: list[LabeledRepo], by_ai: bool = False, batch_prior: bool = True) -> list[str]:
    """Out-of-fold categories for ``pool``; every fold also trains on ``extra`` and ``seeds``.

    ``batch_prior``: estimate the AI share of each held-out fold from its texts (as
    ``stackatlas classifier eval`` does for the gold file); else assume the training share.
    """
    predicted = [""] * len(pool)
    for train, test in _folds(pool, by_ai):
        held_out = [pool[i] for i in test]
        model = train_model(_training([pool[i] for i in train] + extra, seeds, held_out))
        texts = [label.as_text() for label in held_out]
        prior = model.estimate_ai_prior(texts) if batch_prior else None
        for i, prediction in zip(test, model.predict(texts, ai_prior=prior), strict=True):
            predicted[i] = prediction.category
    return predicted


def cv_baseline(pool: list[LabeledRepo]) -> list[str]:
    # every text column of the labels file, as a plain baseline would take it
    texts = [" ".join([label.full_name, label.description, label.language, *label.topics])
             for label in pool]
    categories = np.array([label.category for label in pool])
    predicted = [""] * len(pool)
    for train, test in _folds(pool):
        vectoriser = TfidfVectorizer(sublinear_tf=True)
        model = LogisticRegression(max_iter=2000, C=10)
        model.fit(vectoriser.fit_transform([texts[i] for i in train]), categories[train])
        for i, category in zip(test, model.predict(vectoriser.transform([texts[i] for i in test])),
                               strict=True):
            predicted[i] = str(category)
    return predicted


def category_scores(pool: Sequence[LabeledRepo], predicted: Sequence[str]) -> dict[str, float]:
    true = [label.category for label in pool]
    return {
        "category": float(np.mean([t == p for t, p in zip(true, predicted, strict=True)])),
        "layer": float(np.mean(
            [label.layer == layer_of(p) for label, p in zip(pool, predicted, strict=True)])),
        "macro_f1": float(f1_score(true, predicted, average="macro", zero_division=0)),
    }


def ai_scores(pool: Sequence[LabeledRepo], predicted: Sequence[str]) -> dict[str, float]:
    true_ai = np.array([label.category != "other" for label in pool])
    predicted_ai = np.array([p != "other" for p in predicted])
    return {
        "ai_precision": float(true_ai[predicted_ai].mean()) if predicted_ai.any() else 0.0,
        "ai_recall": float(predicted_ai[true_ai].mean()) if true_ai.any() else 0.0,
    }


def ai_row_accuracy(pool: Sequence[LabeledRepo], predicted: Sequence[str]) -> float:
    pairs = [(label.category, p) for label, p in zip(pool, predicted, strict=True)
             if label.category != "other"]
    return float(np.mean([t == p for t, p in pairs]))


def throughput(labels: list[LabeledRepo], runs: int = 5) -> float:
    model = train_model(labels)
    texts = [label.as_text() for label in labels]
    model.predict(texts[:50])
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        model.predict(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


def _row(name: str, scores: dict[str, float]) -> str:
    return f"{name:<34}" + "  ".join(f"{k} {v:.3f}" for k, v in scores.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--counts-only", action="store_true",
                        help="Only the count-error and simulated-review sections.")
    parser.add_argument("--shipped-only", action="store_true",
                        help="Only the shipped model's count error and the simulated review.")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    dev = read_labels(args.data_dir / "labels_dev.tsv")
    ai_or_not = read_labels(args.data_dir / "ai_or_not_dev.tsv")
    seed_sets = {"no seeds": [], "seeds": load_seed_labels()}
    if args.counts_only or args.shipped_only:
        count_sections(dev, ai_or_not, seed_sets["seeds"], dev_model=not args.shipped_only)
        return

    print(f"5-fold CV on labels_dev.tsv ({len(dev)} rows)")
    print(_row("baseline TF-IDF + LR", category_scores(dev, cv_baseline(dev))))
    ours_dev = {}
    for name, seeds in seed_sets.items():
        ours_dev[name] = cv_ours(dev, [], seeds)
        print(_row(f"stackatlas ({name})", category_scores(dev, ours_dev[name])))
    no_estimate = cv_ours(dev, [], seed_sets["seeds"], batch_prior=False)
    print(_row("  (seeds, no AI-share estimate)", category_scores(dev, no_estimate)))

    print(f"\n\"is AI\" on ai_or_not_dev.tsv rows scored alone ({len(ai_or_not)} rows, 5-fold, "
          "trained with labels_dev.tsv)")
    for name, seeds in seed_sets.items():
        predicted = cv_ours(ai_or_not, dev, seeds, by_ai=True)
        print(_row(f"stackatlas ({name})", ai_scores(ai_or_not, predicted)))
    no_estimate = cv_ours(ai_or_not, dev, seed_sets["seeds"], by_ai=True, batch_prior=False)
    print(_row("  (seeds, no AI-share estimate)", ai_scores(ai_or_not, no_estimate)))

    print("\ncategory accuracy on labels_dev AI rows (5-fold)")
    for name, seeds in seed_sets.items():
        with_non_ai = cv_ours(dev, ai_or_not, seeds)
        print(f"{'stackatlas (' + name + ')':<34}without non-AI rows "
              f"{ai_row_accuracy(dev, ours_dev[name]):.3f}  with ai_or_not_dev in training "
              f"{ai_row_accuracy(dev, with_non_ai):.3f}")

    both = dev + ai_or_not
    print(f"\nthroughput (median of 5 runs, {len(both)} repos): "
          f"{throughput(both):,.0f} repos/s")
    count_sections(dev, ai_or_not, seed_sets["seeds"])


def count_sections(dev: list[LabeledRepo], ai_or_not: list[LabeledRepo],
                   seeds: list[LabeledRepo], dev_model: bool = True) -> None:
    """Count error (dev-trained model in 5-fold CV, shipped model) and the simulated review."""
    from bench import counts

    if dev_model:
        folds = []
        for train, test in _folds(dev):
            held_out = [dev[i] for i in test]
            training = _training([dev[i] for i in train] + ai_or_not, seeds, held_out)
            folds.append(counts.count_fold(train_model(training), training, held_out))
        baseline = np.bincount(quantify.category_index(cv_baseline(dev)),
                               minlength=len(quantify.CATEGORIES))
        counts.print_counts("5-fold CV on labels_dev.tsv, trained on both dev files and the "
                            "seeds", folds, baseline)
    shipped = train_model(seeds)
    validation = quantify.cross_validate(seeds)
    shipped_fold = counts.count_fold(shipped, seeds, dev, validation)
    counts.print_counts("shipped model (seed labels only) on labels_dev.tsv", [shipped_fold])
    print(f"\nsimulated review of labels_dev.tsv with the shipped model ({len(dev)} repos; "
          "count error estimated mean/worst, labelled mean; retrained after each batch)")
    for name, order in (("ranked (ours)", counts.ranked_order),
                        ("random order", counts.random_order())):
        results = counts.simulate_review(dev, seeds, shipped, validation, order)
        counts.print_review(name, results, len(dev))


if __name__ == "__main__":
    main()
