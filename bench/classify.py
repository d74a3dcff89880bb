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
from sklearn.pipeline import FeatureUnion, Pipeline

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from bench import counts, llm_effect  # noqa: E402
from classifier import quantify  # noqa: E402
from classifier.labels import LabeledRepo, load_seed_labels, read_labels  # noqa: E402
from classifier.model import train_model  # noqa: E402
from classifier.overlap import without_overlap  # noqa: E402
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
    """Seeds plus rows (rows win on a clash), minus every held-out repository, renamed or moved
    ones and near-copied descriptions included (as the CLI does)."""
    by_name = {label.full_name.lower(): label for label in seeds}
    by_name.update((label.full_name.lower(), label) for label in rows)
    return without_overlap(by_name.values(), held_out)


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


def baseline_text(label: LabeledRepo) -> str:
    """What a plain baseline reads: name, description, language and topics."""
    return " ".join([label.full_name, label.description, label.language, *label.topics])


def baseline_model() -> Pipeline:
    """A well-tuned TF-IDF + logistic regression: word 1–2-grams and character 2–5-grams, C=10."""
    return Pipeline([
        ("features", FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ])),
        ("model", LogisticRegression(max_iter=3000, C=10)),
    ])


def cv_baseline(pool: list[LabeledRepo]) -> list[str]:
    texts = np.array([baseline_text(label) for label in pool], dtype=object)
    categories = np.array([label.category for label in pool])
    predicted = [""] * len(pool)
    for train, test in _folds(pool):
        model = baseline_model().fit(texts[train], categories[train])
        for i, category in zip(test, model.predict(texts[test]), strict=True):
            predicted[i] = str(category)
    return predicted


def cv_baseline_is_ai(pool: list[LabeledRepo], extra: list[LabeledRepo]) -> list[str]:
    """The same baseline deciding AI / not AI on ``pool`` (folds as cv_ours with by_ai), each
    fold also trained on ``extra``; answers "other" or "ai"."""
    texts = np.array([baseline_text(label) for label in pool], dtype=object)
    extra_texts = [baseline_text(label) for label in extra]
    is_ai = np.array([label.category != "other" for label in pool])
    extra_ai = [label.category != "other" for label in extra]
    predicted = [""] * len(pool)
    for train, test in _folds(pool, by_ai=True):
        model = baseline_model().fit([*texts[train], *extra_texts], [*is_ai[train], *extra_ai])
        for i, ai in zip(test, model.predict(texts[test]), strict=True):
            predicted[i] = "ai" if ai else "other"
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
    precision = float(true_ai[predicted_ai].mean()) if predicted_ai.any() else 0.0
    recall = float(predicted_ai[true_ai].mean()) if true_ai.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"ai_precision": precision, "ai_recall": recall, "ai_f1": f1}


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


def shipped_section(dev: list[LabeledRepo]) -> None:
    """The shipped model (seed labels only, minus any seed overlapping labels_dev) scored on
    labels_dev.tsv: what every user gets. Classify and count over the five AI categories."""
    seeds = without_overlap(load_seed_labels(), dev)
    model = train_model(seeds)
    texts = [label.as_text() for label in dev]
    predicted = [p.category for p in model.predict(texts, ai_prior=model.estimate_ai_prior(texts))]
    errors = llm_effect.count_error([label.category for label in dev], predicted)
    ratios = "  ".join(f"{c} {errors.ratio(c):.2f}x" for c in errors.gold)
    print(f"\nshipped model ({len(seeds)} seeds) scored on labels_dev.tsv ({len(dev)} rows)")
    print(_row("stackatlas (shipped)", category_scores(dev, predicted)))
    print(f"{'  classify and count':<34}count error mean {errors.mean:.1%} worst "
          f"{errors.worst:.1%}  ({ratios})")


def _row(name: str, scores: dict[str, float]) -> str:
    return f"{name:<34}" + "  ".join(f"{k} {v:.3f}" for k, v in scores.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    llm_effect.add_arguments(parser)
    parser.add_argument("--counts-only", action="store_true",
                        help="Only the count-error and simulated-review sections.")
    parser.add_argument("--shipped-only", action="store_true",
                        help="Only the shipped model's count error and the simulated review.")
    parser.add_argument("--random-orders", type=int, default=5, metavar="N",
                        help="Simulate the review with N draws (seeds 0..N-1) of the queue's "
                             "calibration sample and N random orders, and print their medians "
                             "(default 5).")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.llm_url:
        llm_effect.run(args)
        return
    dev = read_labels(args.data_dir / "labels_dev.tsv")
    ai_or_not = read_labels(args.data_dir / "ai_or_not_dev.tsv")
    seed_sets = {"no seeds": [], "seeds": load_seed_labels()}
    if args.counts_only or args.shipped_only:
        count_sections(dev, ai_or_not, seed_sets["seeds"], dev_model=not args.shipped_only,
                       random_orders=args.random_orders)
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
    print(_row("baseline TF-IDF + LR", ai_scores(ai_or_not, cv_baseline_is_ai(ai_or_not, dev))))
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

    shipped_section(dev)

    both = dev + ai_or_not
    print(f"\nthroughput (median of 5 runs, {len(both)} repos): "
          f"{throughput(both):,.0f} repos/s")
    count_sections(dev, ai_or_not, seed_sets["seeds"], random_orders=args.random_orders)


def count_sections(dev: list[LabeledRepo], ai_or_not: list[LabeledRepo],
                   seeds: list[LabeledRepo], dev_model: bool = True,
                   random_orders: int = 5) -> None:
    """Count error (dev-trained model in 5-fold CV, shipped model) and the simulated review."""
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
    seeds = without_overlap(seeds, dev)
    shipped = train_model(seeds)
    validation = quantify.cross_validate(seeds)
    shipped_fold = counts.count_fold(shipped, seeds, dev, validation)
    counts.print_counts("shipped model (seed labels only) on labels_dev.tsv", [shipped_fold])
    print(f"\nsimulated review of labels_dev.tsv with the shipped model ({len(dev)} repos; "
          "count error estimated mean/worst, labelled mean; retrained after each batch)")

    def review(order: counts.Order) -> counts.ReviewResults:
        return counts.simulate_review(dev, seeds, shipped, validation, order)

    print_orders("queue's order (ours: by score, then a calibration sample)",
                 [review(counts.queue_order(dev, salt)) for salt in range(max(1, random_orders))],
                 len(dev))
    counts.print_review("by score all the way (the queue without its calibration sample)",
                        review(counts.queue_order(dev, head_share=1.0)), len(dev))
    print_orders("random order", [review(counts.random_order(seed))
                                  for seed in range(random_orders)], len(dev))


def print_orders(name: str, runs: list[counts.ReviewResults], population: int) -> None:
    """Each run of the simulated review (one draw of a random order each), then their median."""
    for index, results in enumerate(runs):
        counts.print_review(f"{name} (seed {index})", results, population)
    if len(runs) > 1:
        counts.print_review(f"{name}, median of {len(runs)} seeds",
                            counts.median_results(runs), population)


if __name__ == "__main__":
    main()
