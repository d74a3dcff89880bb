"""The LLM stage's effect, measured (reached by ``bench/classify.py --llm-url URL``).

On a fixed stratified sample of labels_dev.tsv, the shipped model (seed labels only, minus any
seed that is a sample repository under any name or copies its description) labels every
repository; the LLM stage then relabels the unsure ones, most important to the counts first,
within a budget of repositories. Printed, without and with the LLM: category and layer
accuracy, and the count error over the five AI categories (|labelled − gold| / gold, classify
and count); then requests and tokens per repository, the time per request, and the cost of
labelling 15,000 repositories at the given price per million tokens.

Run: .venv/bin/python bench/classify.py --llm-url http://127.0.0.1:8080/v1 \\
         [--llm-model M] [--price-per-mtok 0.15] [--llm-budget 60] [--llm-sample 200]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifier import taxonomy
from classifier.labels import LabeledRepo, load_seed_labels, read_labels
from classifier.llm import COUNTED_CATEGORIES, LLM_MAX_RETRIES, LLMClient, LLMRefiner, LLMStats
from classifier.llm_cache import InMemoryLLMCache
from classifier.model import Prediction, train_model
from classifier.overlap import without_overlap

POPULATION = 15_000  # about the number of AI repositories on GitHub in 2026 (../shared/data)
SAMPLE_SEED = 0


@dataclass(frozen=True)
class CountError:
    gold: dict[str, int]
    labelled: dict[str, int]

    def ratio(self, category: str) -> float:
        return self.labelled[category] / max(1, self.gold[category])

    @property
    def errors(self) -> list[float]:
        return [abs(self.labelled[c] - self.gold[c]) / max(1, self.gold[c])
                for c in COUNTED_CATEGORIES]

    @property
    def mean(self) -> float:
        return float(np.mean(self.errors))

    @property
    def worst(self) -> float:
        return float(np.max(self.errors))


def count_error(gold: Sequence[str], predicted: Sequence[str]) -> CountError:
    """Classify and count: the gold and labelled number of repositories per counted category."""
    gold_counts, labelled_counts = Counter(gold), Counter(predicted)
    return CountError({c: gold_counts[c] for c in COUNTED_CATEGORIES},
                      {c: labelled_counts[c] for c in COUNTED_CATEGORIES})


def stratified_sample(labels: list[LabeledRepo], size: int) -> list[LabeledRepo]:
    """A fixed sample with the categories' shares of ``labels`` (the same rows every run)."""
    if size >= len(labels):
        return list(labels)
    rng = np.random.default_rng(SAMPLE_SEED)
    by_category: dict[str, list[LabeledRepo]] = {}
    for label in sorted(labels, key=lambda label: label.full_name.lower()):
        by_category.setdefault(label.category, []).append(label)
    chosen: list[LabeledRepo] = []
    for category in sorted(by_category):
        rows = by_category[category]
        take = max(1, round(size * len(rows) / len(labels)))
        chosen.extend(rows[i] for i in sorted(rng.choice(len(rows), take, replace=False)))
    return chosen


def _accuracy(gold: Sequence[LabeledRepo], predictions: Sequence[Prediction]) -> tuple[float, ...]:
    pairs = list(zip(gold, predictions, strict=True))
    return (float(np.mean([g.category == p.category for g, p in pairs])),
            float(np.mean([g.layer == p.layer for g, p in pairs])))


def _quality_line(name: str, gold: Sequence[LabeledRepo],
                  predictions: Sequence[Prediction]) -> str:
    category, layer = _accuracy(gold, predictions)
    errors = count_error([g.category for g in gold], [p.category for p in predictions])
    ratios = " ".join(f"{c} {errors.ratio(c):.2f}x" for c in COUNTED_CATEGORIES)
    return (f"{name:<14} category {category:.3f}  layer {layer:.3f}  count error mean "
            f"{errors.mean:.1%} worst {errors.worst:.1%}  ({ratios})")


def _refiner(args: argparse.Namespace, examples: list[LabeledRepo]) -> LLMRefiner:
    budget = max(0, args.llm_budget)
    client = LLMClient(args.llm_url, args.llm_model, os.environ.get("STACKATLAS_LLM_API_KEY"),
                       timeout=args.llm_timeout, max_retries=LLM_MAX_RETRIES)
    return LLMRefiner(client, examples, InMemoryLLMCache(), threshold=args.llm_threshold,
                      batch_size=args.llm_batch_size,
                      max_requests=math.ceil(budget / args.llm_batch_size),
                      max_tokens=10**9)


def _cost_lines(stats: LLMStats, sample: int, seconds: float, price: float) -> list[str]:
    per_repo = stats.total_tokens / sample
    per_sent = stats.total_tokens / max(1, stats.sent)
    unsent = stats.candidates - stats.sent - stats.cache_hits
    return [
        f"LLM stage: {stats.candidates} of {sample} below the threshold, {stats.sent} sent "
        f"({unsent} left to the model by the budget), {stats.answered} answered, "
        f"{stats.fallbacks} fallbacks {dict(stats.fallback_reasons)}",
        f"requests {stats.requests} ({stats.requests / sample:.3f} per repository, "
        f"{stats.failed_requests} failed), {seconds / max(1, stats.requests):.1f} s per request",
        f"tokens {stats.total_tokens} (prompt {stats.prompt_tokens}, completion "
        f"{stats.completion_tokens}): {per_repo:.0f} per repository of the sample, "
        f"{per_sent:.0f} per repository sent",
        f"cost of {POPULATION:,} repositories at ${price:g} per million tokens: "
        f"${per_repo * POPULATION * price / 1e6:,.2f} at this run's share sent "
        f"({stats.sent / sample:.0%}), ${per_sent * POPULATION * price / 1e6:,.2f} if every "
        "repository were sent",
    ]


def run(args: argparse.Namespace) -> None:
    dev = read_labels(args.data_dir / "labels_dev.tsv")
    sample = stratified_sample(dev, args.llm_sample)
    seeds = without_overlap(load_seed_labels(), sample)
    model = train_model(seeds)
    texts = [label.as_text() for label in sample]
    predictions = model.predict(texts, ai_prior=model.estimate_ai_prior(texts))
    print(f"LLM effect on a stratified sample of {len(sample)} rows of labels_dev.tsv "
          f"(seed {SAMPLE_SEED}); shipped model on {len(seeds)} seed labels; LLM "
          f"{args.llm_model} at {args.llm_url}, threshold {args.llm_threshold}, budget "
          f"{args.llm_budget} repositories, batches of {args.llm_batch_size}")
    print(f"gold counts: {dict(Counter(label.category for label in sample))}")
    started = time.perf_counter()
    with _refiner(args, seeds) as refiner:
        refined, stats = refiner.refine(texts, predictions)
    seconds = time.perf_counter() - started
    print(_quality_line("without LLM", sample, predictions))
    print(_quality_line("with LLM", sample, refined))
    changed = sum(a.category != b.category for a, b in zip(predictions, refined, strict=True))
    fixed = sum(a.category != g.category == b.category
                for a, b, g in zip(predictions, refined, sample, strict=True))
    broke = sum(a.category == g.category != b.category
                for a, b, g in zip(predictions, refined, sample, strict=True))
    print(f"LLM changed {changed} labels: {fixed} to the gold category, {broke} away from it; "
          f"methods {dict(Counter(p.method for p in refined))}")
    for line in _cost_lines(stats, len(sample), seconds, args.price_per_mtok):
        print(line)
    not_ai = sum(p.category == taxonomy.NOT_AI_CATEGORY for p in refined)
    print(f"({not_ai} of {len(sample)} labelled not AI after the LLM stage)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM effect (bench/llm_effect.py)")
    group.add_argument("--llm-url", help="OpenAI-compatible base URL (…/v1): run this bench")
    group.add_argument("--llm-model", default="gpt-4o-mini")
    group.add_argument("--price-per-mtok", type=float, default=0.15,
                       help="Price in dollars per million tokens (prompt and completion)")
    group.add_argument("--llm-budget", type=int, default=60,
                       help="Most repositories sent to the LLM (the most important first)")
    group.add_argument("--llm-sample", type=int, default=200,
                       help="Size of the stratified sample of labels_dev.tsv")
    group.add_argument("--llm-threshold", type=float, default=0.6)
    group.add_argument("--llm-batch-size", type=int, default=10)
    group.add_argument("--llm-timeout", type=float, default=600.0)
