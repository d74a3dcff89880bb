"""Count estimation on synthetic data whose true counts are known (no trained model needed).

Three categories with overlapping one-dimensional Gaussian scores: the probabilities are exact for
a population with equal shares, the validation is drawn from such a population, and the counted
population from a shifted one, where classify-and-count is biased.
"""

from __future__ import annotations

import numpy as np
import pytest

from classifier.quantify import (
    CATEGORIES,
    METHODS,
    MIN_CALIBRATION_ROWS,
    Validation,
    adjust_to,
    count_error,
    estimate_counts,
    estimate_monthly,
    estimate_shares,
    hard_labels,
    month_number,
    month_start,
)

USED = 3  # applications, app-development, models; the other categories hold no repository
MEANS = np.array([0.0, 1.6, 3.2])
TRAINING = np.array([1 / 3] * USED + [0.0] * (len(CATEGORIES) - USED))
SHIFTED = np.array([0.8, 0.15, 0.05])


def population(shares: np.ndarray, size: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """True category indices and probabilities (exact at equal shares) of ``size`` repositories."""
    true = rng.choice(USED, size=size, p=shares)
    scores = rng.normal(MEANS[true], 1.0)
    likelihood = np.exp(-0.5 * (scores[:, None] - MEANS[None, :]) ** 2)
    probabilities = np.zeros((size, len(CATEGORIES)))
    probabilities[:, :USED] = likelihood / likelihood.sum(axis=1, keepdims=True)
    return true, probabilities


def validation(rng: np.random.Generator, size: int = 3000) -> Validation:
    true, probabilities = population(TRAINING[:USED], size, rng)
    return Validation(true, probabilities, np.maximum(TRAINING, 1e-6) / np.maximum(
        TRAINING, 1e-6).sum())


def shares_error(estimated: np.ndarray) -> float:
    return float(np.abs(estimated[:USED] - SHIFTED).max())


def test_adjusted_methods_recover_a_prior_shift_where_classify_and_count_fails() -> None:
    rng = np.random.default_rng(1)
    measured = validation(rng)
    _, probabilities = population(SHIFTED, 6000, rng)
    errors = {m: shares_error(estimate_shares(m, probabilities, measured)) for m in METHODS}
    assert errors["cc"] > 0.1 and errors["pcc"] > 0.1  # both biased towards equal shares
    for method in ("acc", "pacc", "sld"):
        assert errors[method] < 0.05 and errors[method] < errors["cc"] / 3, (method, errors)


def test_estimated_counts_add_human_confirmed_repositories_exactly() -> None:
    rng = np.random.default_rng(2)
    measured = validation(rng)
    true, probabilities = population(SHIFTED, 3000, rng)
    confirmed = np.where(np.arange(3000) < 1000, true, -1)
    counts = estimate_counts("acc", probabilities, measured, confirmed)
    assert counts.sum() == pytest.approx(3000)
    fully = estimate_counts("acc", probabilities, measured, true)  # everything confirmed
    assert fully[:USED].tolist() == np.bincount(true, minlength=USED).tolist()
    gold = dict(zip(CATEGORIES, np.bincount(true, minlength=len(CATEGORIES)), strict=True))
    mean, worst = count_error(dict(zip(CATEGORIES, counts, strict=True)), gold, CATEGORIES[:3])
    counted = estimate_counts("cc", probabilities, measured, confirmed)
    cc_mean, _ = count_error(dict(zip(CATEGORIES, counted, strict=True)), gold, CATEGORIES[:3])
    assert mean <= worst and mean < cc_mean / 2


def test_the_90_percent_interval_covers_the_true_count() -> None:
    rng = np.random.default_rng(3)
    covered, trials = [], 30
    for trial in range(trials):
        measured = validation(rng, size=1500)
        true, probabilities = population(SHIFTED, 1500, rng)
        result = estimate_monthly("acc", probabilities, np.zeros(1500, dtype=int), measured,
                                  replicates=100, seed=trial)
        gold = np.bincount(true, minlength=USED)
        for index in range(USED):
            covered.append(result.lo[0, index] <= gold[index] <= result.hi[0, index])
            assert 0 < result.hi[0, index] - result.lo[0, index] < 0.3 * 1500
    assert np.mean(covered) >= 0.8  # nominal 0.9, over 90 intervals


def test_monthly_estimates_run_through_every_month_and_accumulate() -> None:
    rng = np.random.default_rng(4)
    measured = validation(rng)
    true, probabilities = population(SHIFTED, 900, rng)
    from datetime import date

    first = month_number(date(2023, 1, 1))
    months = np.where(np.arange(900) < 600, first, first + 3)  # nothing in Feb and Mar
    confirmed = np.full(900, -1)
    confirmed[:10] = true[:10]
    result = estimate_monthly("acc", probabilities, months, measured, confirmed=confirmed,
                              replicates=50)
    assert [month_start(int(m)) for m in result.months] == [
        date(2023, 1, 1), date(2023, 2, 1), date(2023, 3, 1), date(2023, 4, 1)]
    assert result.estimate[1:3].sum() == 0
    assert np.allclose(result.cumulative, result.estimate.cumsum(axis=0))
    assert result.cumulative[-1].sum() == pytest.approx(900)
    assert (result.cumulative_lo <= result.cumulative + 1e-9).all()
    assert (result.cumulative + 1e-9 >= result.cumulative_lo).all()
    assert (result.cumulative_hi + 1e-9 >= result.cumulative).all()
    # the running totals never fall, so neither do their bounds' point estimates
    assert (np.diff(result.cumulative, axis=0) >= -1e-9).all()


def test_hard_labels_follow_the_models_cut_and_rules() -> None:
    probabilities = np.zeros((3, len(CATEGORIES)))
    other = CATEGORIES.index("other")
    probabilities[0, [0, other]] = [0.25, 0.75]  # P(AI) 0.25 < 0.3: not AI
    probabilities[1, [1, 2, other]] = [0.2, 0.15, 0.65]  # P(AI) 0.35: AI, likeliest AI category
    probabilities[2, CATEGORIES.index("lists")] = 1.0  # a rule's one-hot row
    assert [CATEGORIES[i] for i in hard_labels(probabilities)] == [
        "other", "app-development", "lists"]


def test_prior_adjustment_keeps_rows_summing_to_one() -> None:
    rng = np.random.default_rng(5)
    _, probabilities = population(SHIFTED, 50, rng)
    adjusted = adjust_to(probabilities, np.pad(SHIFTED, (0, len(CATEGORIES) - USED)),
                         np.maximum(TRAINING, 1e-6))
    assert np.allclose(adjusted.sum(axis=1), 1.0)
    assert adjusted[:, 0].mean() > probabilities[:, 0].mean()  # moved towards the larger share


def miscalibrated(shares: np.ndarray, size: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A classifier that over-calls the third category: its log-probability raised by 1."""
    true, probabilities = population(shares, size, rng)
    probabilities[:, 2] *= np.e
    probabilities[:, :USED] /= probabilities[:, :USED].sum(axis=1, keepdims=True)
    return true, probabilities


def test_calibrated_counts_correct_a_classifier_that_over_calls_a_category() -> None:
    rng = np.random.default_rng(6)
    mix = np.array([0.5, 0.3, 0.2])
    measured_true, measured_probabilities = miscalibrated(mix, 3000, rng)
    measured = Validation(measured_true, measured_probabilities, TRAINING)
    true, probabilities = miscalibrated(mix, 3000, rng)
    gold = np.bincount(true, minlength=USED)
    pcc = estimate_counts("pcc", probabilities, measured)[:USED]
    cpcc = estimate_counts("cpcc", probabilities, measured)[:USED]
    assert pcc[2] > 1.3 * gold[2]  # summing the raw probabilities over-counts it
    assert np.abs(cpcc - gold).max() < 0.06 * gold.min(), (cpcc, gold)
    assert cpcc.sum() == pytest.approx(3000)


def test_rule_decided_rows_keep_their_category_under_recalibration() -> None:
    rng = np.random.default_rng(7)
    measured_true, measured_probabilities = miscalibrated(np.array([0.5, 0.3, 0.2]), 600, rng)
    measured = Validation(measured_true, measured_probabilities, TRAINING)
    probabilities = np.zeros((2, len(CATEGORIES)))
    probabilities[0, CATEGORIES.index("lists")] = 1.0
    probabilities[1, CATEGORIES.index("other")] = 1.0
    counts = estimate_counts("cpcc", probabilities, measured)
    assert counts[CATEGORIES.index("lists")] == 1 and counts[CATEGORIES.index("other")] == 1


def test_seeds_and_foreign_sources_measure_only_where_better_rows_are_missing() -> None:
    # class 0: 30 list rows, 30 foreign, 30 seeds; class 1: 10 list rows, 25 foreign, 5 seeds;
    # class 2: 10 seeds only
    true = np.array([0] * 90 + [1] * 40 + [2] * 10)
    kind = np.array(["list"] * 30 + ["foreign"] * 30 + ["seed"] * 30
                    + ["list"] * 10 + ["foreign"] * 25 + ["seed"] * 5 + ["seed"] * 10)
    validation = Validation(true, np.full((140, len(CATEGORIES)), 1 / len(CATEGORIES)),
                            TRAINING, teaching=kind == "seed", foreign=kind == "foreign")
    measuring = validation.measuring()
    assert set(kind[measuring & (true == 0)]) == {"list"}
    assert set(kind[measuring & (true == 1)]) == {"list", "foreign"}  # 10 list rows are too few
    assert set(kind[measuring & (true == 2)]) == {"seed"}


def test_recalibration_fits_sampled_labels_alone_only_when_enough_exist() -> None:
    def kinds(sampled: int) -> set[str]:
        kind = np.array(["list"] * sampled + ["override"] * 50 + ["seed"] * 300
                        + ["foreign"] * 40)
        true = np.arange(len(kind)) % USED  # AI categories only
        validation = Validation(true, np.full((len(kind), len(CATEGORIES)), 0.1), TRAINING,
                                teaching=kind == "seed", foreign=kind == "foreign",
                                selected=kind == "override")
        return set(kind[validation.calibration_rows()])

    assert kinds(MIN_CALIBRATION_ROWS) == {"list", "override"}
    assert kinds(MIN_CALIBRATION_ROWS - 1) == {"list", "override", "seed"}
    assert kinds(0) == {"override", "seed"}


def test_the_calibrated_interval_covers_the_true_count() -> None:
    rng = np.random.default_rng(8)
    mix = np.array([0.5, 0.3, 0.2])
    covered = []
    for trial in range(12):
        measured_true, measured_probabilities = miscalibrated(mix, 1000, rng)
        measured = Validation(measured_true, measured_probabilities, TRAINING)
        true, probabilities = miscalibrated(mix, 1000, rng)
        result = estimate_monthly("cpcc", probabilities, np.zeros(1000, dtype=int), measured,
                                  replicates=60, seed=trial)
        gold = np.bincount(true, minlength=USED)
        covered += [result.lo[0, i] <= gold[i] <= result.hi[0, i] for i in range(USED)]
    assert np.mean(covered) >= 0.8  # nominal 0.9, over 36 intervals
