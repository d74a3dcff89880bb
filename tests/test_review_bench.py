"""The simulated review of bench/classify.py: random orders per seed and their median."""

from __future__ import annotations

import numpy as np

from bench import counts


def test_random_orders_differ_by_seed_and_skip_confirmed_repositories() -> None:
    probabilities = np.full((40, 3), 1 / 3)
    confirmed = np.full(40, -1)
    confirmed[[3, 7, 11]] = 0
    picks = [counts.random_order(seed)(probabilities, confirmed, None, 10) for seed in (0, 1)]
    assert all(len(set(p)) == 10 for p in picks)
    assert not set(picks[0]) & {3, 7, 11} and not set(picks[1]) & {3, 7, 11}
    assert list(picks[0]) != list(picks[1])
    again = counts.random_order(0)(probabilities, confirmed, None, 10)
    assert list(again) == list(picks[0])


def test_median_of_review_runs_is_taken_per_step_and_figure() -> None:
    runs = [
        [(0, 0.06, 0.15, 0.11, 0.22), (200, 0.02, 0.04, 0.10, 0.20)],
        [(0, 0.06, 0.15, 0.11, 0.22), (200, 0.09, 0.19, 0.12, 0.30)],
        [(0, 0.06, 0.15, 0.11, 0.22), (200, 0.04, 0.12, 0.08, 0.25)],
    ]
    median = counts.median_results(runs)
    assert [step for step, *_ in median] == [0, 200]
    assert median[0] == (0, 0.06, 0.15, 0.11, 0.22)
    assert median[1] == (200, 0.04, 0.12, 0.10, 0.25)
