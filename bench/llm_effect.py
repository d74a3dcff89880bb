"""The LLM stage's effect, measured (reached by ``bench/classify.py --llm-url URL``).

On a fixed stratified sample of labels_dev.tsv, the shipped model (seed labels only, minus any
seed that is a sample repository under any name or copies its description) labels every
repository; the LLM stage then relabels the unsure ones, most important to the counts first
(``classifier/llm.py: count_priority``), within a budget of repositories. It goes through the
product's own client (``LLMClient``, ``LLMRefiner``), as a hosted endpoint would. Printed,
without and with the LLM: category and layer accuracy, and the count error over the five AI
categories (|labelled − gold| / gold, classify and count); which repositories the budget sent;
requests and tokens (prompt, completion) per repository, seconds per request (median), and the
cost of labelling 15,000 repositories at the given prices per million tokens.

Run: .venv/bin/python bench/classify.py --llm-url http://127.0.0.1:8080/v1 \\
         [--llm-model M] [--price-per-mtok 0.15] [--llm-budget 40] [--llm-sample 200]
A local endpoint: ``python -m standins.llama_server --port 8080`` (llama.cpp, gemma3-270m).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np

from classifier.labels import LabeledRepo, load_seed_labels, read_labels
from classifier.llm import (
    COUNTED_CATEGORIES,
    LLM_MAX_RETRIES,
    LLMClient,
    LLMRefiner,
    LLMStats,
    count_priority,
)
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
    """``size`` rows with the categories' shares of ``labels`` (the same rows every run)."""
    if size >= len(labels):
        return list(labels)
    rng = np.random.default_rng(SAMPLE_SEED)
    by_category: dict[str, list[LabeledRepo]] = {}
    for label in sorted(labels, key=lambda label: label.full_name.lower()):
        by_category.setdefault(label.category, []).append(label)
    takes = _allocate(size, {c: len(rows) for c, rows in sorted(by_category.items())})
    chosen: list[LabeledRepo] = []
    for category, take in takes.items():
        rows = by_category[category]
        chosen.extend(rows[i] for i in sorted(rng.choice(len(rows), take, replace=False)))
    return chosen


def _allocate(size: int, sizes: dict[str, int]) -> dict[str, int]:
    """Rows per category summing to ``size``: largest remainders of the proportional shares,
    at least one per category while ``size`` allows."""
    total = sum(sizes.values())
    shares = {c: size * n / total for c, n in sizes.items()}
    takes = {c: min(n, max(1, math.floor(shares[c]))) for c, n in sizes.items()}
    by_remainder = sorted(sizes, key=lambda c: shares[c] - math.floor(shares[c]), reverse=True)
    while sum(takes.values()) < size:
        category = next(c for c in by_remainder if takes[c] < sizes[c])
        takes[category] += 1
        by_remainder.remove(category)
        by_remainder.append(category)
    while sum(takes.values()) > size:  # the minimum of one overshot: trim the largest
        takes[max(takes, key=lambda c: takes[c])] -= 1
    return takes


class TimedTransport(httpx.HTTPTransport):
    """The real transport, noting how long each request took until its answer's headers (a
    server that does not stream sends them when the completion is done)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []  # of the answered requests (200)
        self.refused = 0  # other answers, such as a 422 to a response_format the server lacks

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        if response.status_code == 200:
            self.seconds.append(time.perf_counter() - started)
        else:
            self.refused += 1
        return response


@dataclass
class LLMEffect:
    """One run of the bench: the sample, the labels without and with the LLM, what it cost."""

    sample: list[LabeledRepo]
    seeds: int
    before: list[Prediction]
    after: list[Prediction]
    stats: LLMStats
    sent: list[int]  # sample positions put into requests, in the order sent
    left: list[int]  # unsure positions the budget left to the model
    request_seconds: list[float] = field(default_factory=list)  # answered requests
    refused: int = 0  # HTTP answers other than 200 (a response_format step-down, retries)
    wall_seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after

    @property
    def size(self) -> int:
        return len(self.sample)


def measure(args: argparse.Namespace) -> LLMEffect:
    """Label the sample with the shipped model, then let the LLM relabel the unsure ones."""
    sample = stratified_sample(read_labels(args.data_dir / "labels_dev.tsv"), args.llm_sample)
    seeds = without_overlap(load_seed_labels(), sample)
    model = train_model(seeds)
    texts = [label.as_text() for label in sample]
    before = model.predict(texts, ai_prior=model.estimate_ai_prior(texts))
    transport = TimedTransport()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with _refiner(args, seeds, transport) as refiner:
        after, stats = refiner.refine(texts, before)
        unsure = [i for i, p in enumerate(before) if p.confidence < refiner.threshold
                  and p.method != "human"]
    wall = time.perf_counter() - started
    # the refiner sends the unsure in count_priority's order until the budget is spent
    ordered = count_priority(before, unsure)
    return LLMEffect(sample, len(seeds), before, after, stats, ordered[:stats.sent],
                     ordered[stats.sent:], transport.seconds, transport.refused, wall,
                     (load_before, os.getloadavg()[0]))


def _refiner(args: argparse.Namespace, examples: list[LabeledRepo],
             transport: httpx.BaseTransport) -> LLMRefiner:
    budget = max(0, args.llm_budget)
    client = LLMClient(args.llm_url, args.llm_model, os.environ.get("STACKATLAS_LLM_API_KEY"),
                       timeout=args.llm_timeout, max_retries=LLM_MAX_RETRIES,
                       transport=transport)
    return LLMRefiner(client, examples, InMemoryLLMCache(), threshold=args.llm_threshold,
                      batch_size=args.llm_batch_size,
                      max_requests=math.ceil(budget / args.llm_batch_size),
                      max_tokens=10**9)


def report(effect: LLMEffect, args: argparse.Namespace) -> list[str]:
    """Every figure of the run, one line each."""
    gold = Counter(label.category for label in effect.sample)
    return [
        f"LLM effect on a stratified sample of {effect.size} rows of labels_dev.tsv (seed "
        f"{SAMPLE_SEED}); shipped model on {effect.seeds} seed labels; LLM {args.llm_model} at "
        f"{args.llm_url}, threshold {args.llm_threshold}, budget {args.llm_budget} repositories "
        f"(whole batches of {args.llm_batch_size}); load average {effect.load[0]:.1f} before, "
        f"{effect.load[1]:.1f} after",
        f"gold counts: {dict(sorted(gold.items()))}",
        _quality_line("without LLM", effect.sample, effect.before),
        _quality_line("with LLM", effect.sample, effect.after),
        _change_line(effect),
        *_budget_lines(effect),
        *_cost_lines(effect, args.price_per_mtok, _completion_price(args)),
    ]


def _quality_line(name: str, gold: Sequence[LabeledRepo],
                  predictions: Sequence[Prediction]) -> str:
    pairs = list(zip(gold, predictions, strict=True))
    category = float(np.mean([g.category == p.category for g, p in pairs]))
    layer = float(np.mean([g.layer == p.layer for g, p in pairs]))
    errors = count_error([g.category for g in gold], [p.category for p in predictions])
    ratios = " ".join(f"{c} {errors.ratio(c):.2f}x" for c in COUNTED_CATEGORIES)
    return (f"{name:<14} category {category:.3f}  layer {layer:.3f}  count error mean "
            f"{errors.mean:.1%} worst {errors.worst:.1%}  ({ratios})")


def _change_line(effect: LLMEffect) -> str:
    triples = list(zip(effect.before, effect.after, effect.sample, strict=True))
    changed = sum(a.category != b.category for a, b, _ in triples)
    fixed = sum(a.category != g.category == b.category for a, b, g in triples)
    broke = sum(a.category == g.category != b.category for a, b, g in triples)
    return (f"LLM changed {changed} labels: {fixed} to the gold category, {broke} away from it; "
            f"methods {dict(Counter(p.method for p in effect.after))}")


def _budget_lines(effect: LLMEffect) -> list[str]:
    stats = effect.stats

    def described(positions: list[int]) -> str:
        if not positions:
            return "none"
        confidence = statistics.mean(effect.before[i].confidence for i in positions)
        categories = Counter(effect.before[i].category for i in positions)
        return f"model confidence {confidence:.2f}, model labels {dict(categories.most_common())}"

    return [
        f"LLM stage: {stats.candidates} of {effect.size} below the threshold, {stats.sent} sent "
        f"({len(effect.left)} left to the model by the budget), {stats.answered} answered, "
        f"{stats.fallbacks} fallbacks {dict(stats.fallback_reasons)}",
        f"sent first (count_priority: doubt x weight in its category's count): "
        f"{described(effect.sent)}",
        f"left to the model: {described(effect.left)}",
    ]


def _completion_price(args: argparse.Namespace) -> float:
    price = args.completion_price_per_mtok
    return args.price_per_mtok if price is None else price


def _cost_lines(effect: LLMEffect, prompt_price: float, completion_price: float) -> list[str]:
    stats, size = effect.stats, effect.size
    sent = max(1, stats.sent)
    per_sent = (stats.prompt_tokens / sent, stats.completion_tokens / sent)
    dollars_per_sent = (per_sent[0] * prompt_price + per_sent[1] * completion_price) / 1e6
    share = stats.sent / size
    seconds = effect.request_seconds
    median = statistics.median(seconds) if seconds else 0.0
    return [
        f"requests {stats.requests} ({stats.requests / size:.3f} per repository of the sample, "
        f"{stats.requests / sent:.2f} per repository sent, {stats.failed_requests} failed); "
        f"{median:.1f} s per answered request (median of {len(seconds)}; {effect.refused} "
        f"other HTTP answers), {effect.wall_seconds:.0f} s in all",
        f"tokens {stats.total_tokens} (prompt {stats.prompt_tokens}, completion "
        f"{stats.completion_tokens}); per repository sent: prompt {per_sent[0]:.0f}, completion "
        f"{per_sent[1]:.0f}; per repository of the sample: {stats.total_tokens / size:.0f}",
        f"cost of {POPULATION:,} repositories at ${prompt_price:g} (prompt) and "
        f"${completion_price:g} (completion) per million tokens: "
        f"${dollars_per_sent * share * POPULATION:,.2f} sending this run's share "
        f"({share:.0%}), ${dollars_per_sent * POPULATION:,.2f} sending every repository",
    ]


def run(args: argparse.Namespace) -> None:
    for line in report(measure(args), args):
        print(line)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM effect (bench/llm_effect.py)")
    group.add_argument("--llm-url", help="OpenAI-compatible base URL (…/v1): run this bench")
    group.add_argument("--llm-model", default="gpt-4o-mini")
    group.add_argument("--price-per-mtok", type=float, default=0.15,
                       help="Price in dollars per million tokens (prompt, and completion unless "
                            "--completion-price-per-mtok is given)")
    group.add_argument("--completion-price-per-mtok", type=float, default=None,
                       help="Price in dollars per million completion tokens")
    group.add_argument("--llm-budget", type=int, default=40,
                       help="Most repositories sent to the LLM (the most important first)")
    group.add_argument("--llm-sample", type=int, default=200,
                       help="Size of the stratified sample of labels_dev.tsv")
    group.add_argument("--llm-threshold", type=float, default=0.6)
    group.add_argument("--llm-batch-size", type=int, default=10)
    group.add_argument("--llm-timeout", type=float, default=600.0)
