"""The LLM bench (``bench/classify.py --llm-url``) against the fake OpenAI-compatible server:
the budget sends the most important doubts and no more, and the figures it prints are the
requests, tokens and cost of what was sent."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import pytest

from bench import llm_effect
from classifier.labels import read_labels
from classifier.llm import FLAG_FALLBACK, count_priority
from standins.fake_llm import FAKE_MODEL_ID, FakeLLMServer, repositories_in_prompt


def bench_args(data_dir: Path, url: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    llm_effect.add_arguments(parser)
    args = parser.parse_args([
        "--llm-url", url, "--llm-model", FAKE_MODEL_ID, "--llm-sample", "80",
        "--llm-budget", "10", "--llm-batch-size", "5", "--llm-threshold", "0.9",
        "--price-per-mtok", "2", "--completion-price-per-mtok", "8",
    ])  # fmt: skip
    args.data_dir = data_dir
    return args


@pytest.mark.slow  # trains the shipped model on the seed labels
def test_the_bench_sends_the_budget_in_priority_order_and_accounts_for_it(
    shared_data: Path,
) -> None:
    with FakeLLMServer(mode="good") as server:
        server.state.reject_json_schema = True  # as llama-cpp-python's server: JSON mode instead
        args = bench_args(shared_data, server.url)
        effect = llm_effect.measure(args)
        lines = llm_effect.report(effect, args)
        received = [repo["full_name"] for request in server.requests[1:]
                    for repo in repositories_in_prompt(request["body"]["messages"])]

    sample, before, after, stats = effect.sample, effect.before, effect.after, effect.stats
    assert effect.size == 80 and set(effect.load) != {0.0}
    # two requests of five, the most important doubts first, the rest left flagged
    unsure = [i for i, p in enumerate(before) if p.confidence < 0.9]
    assert stats.candidates == len(unsure) > 10
    assert stats.requests == 2 == len(effect.request_seconds)
    assert effect.refused == 1 and len(server.requests) == 3  # the step-down, then two answers
    assert effect.sent == count_priority(before, unsure)[:10]
    assert received == [sample[i].full_name for i in effect.sent]
    assert all(after[i].method == "llm" for i in effect.sent)
    assert all(FLAG_FALLBACK in (after[i].flags or "") for i in effect.left)
    assert sorted(effect.sent + effect.left) == unsure

    # the printed figures are the usage the server reported, and the cost follows from it
    text = "\n".join(lines)
    assert f"{stats.candidates} of 80 below the threshold, 10 sent ({len(unsure) - 10} left" in text
    prompt, completion = stats.prompt_tokens, stats.completion_tokens
    assert prompt > completion > 0
    assert f"tokens {prompt + completion} (prompt {prompt}, completion {completion})" in text
    every = (prompt * 2 + completion * 8) / 1e6 / 10 * 15_000
    dollars = re.search(r"\$([\d,.]+) sending every repository", text)
    assert dollars is not None and float(dollars.group(1).replace(",", "")) == pytest.approx(
        every, abs=0.005)
    assert re.search(r"without LLM +category 0\.\d{3} +layer 0\.\d{3} +count error mean", text)



@pytest.mark.parametrize("size", [80, 200, 400])
def test_the_sample_is_fixed_stratified_and_of_the_size_asked(
    shared_data: Path, size: int
) -> None:
    labels = read_labels(shared_data / "labels_dev.tsv")
    sample = llm_effect.stratified_sample(labels, size)
    assert len(sample) == len({label.full_name for label in sample}) == size
    assert sample == llm_effect.stratified_sample(labels, size)  # the same rows every run
    everywhere, chosen = Counter(label.category for label in labels), Counter(
        label.category for label in sample)
    assert set(chosen) == set(everywhere)  # every category, in its share (rounded)
    for category, count in chosen.items():
        assert abs(count - size * everywhere[category] / len(labels)) < 1
