"""Moving "is AI" probabilities to the AI share of the population at hand (classifier/prior.py)."""

from __future__ import annotations

import numpy as np
import pytest

from classifier import prior
from classifier.features import feature_columns
from classifier.labels import RepoText, load_seed_labels
from classifier.model import AI_DECISION, TrainedModel, train_model


def _calibrated_sample(share: float, n: int = 4000, seed: int = 0) -> np.ndarray:
    """P(AI) of a calibrated classifier trained at half AI, for a population ``share`` AI:
    scores are Gaussian per class, and the probability is Bayes' rule at the 50% prior."""
    rng = np.random.default_rng(seed)
    is_ai = rng.random(n) < share
    score = rng.normal(np.where(is_ai, 1.5, -1.5), 1.0)
    return 1.0 / (1.0 + np.exp(-3.0 * score))  # log-likelihood ratio of N(±1.5, 1) is 3·score


def test_adjust_is_the_identity_at_the_training_prior() -> None:
    probabilities = np.array([0.01, 0.3, 0.5, 0.9])
    assert prior.adjust(probabilities, prior.TRAINING_PRIOR) == pytest.approx(probabilities)


def test_adjust_moves_probabilities_with_the_prior() -> None:
    (rare,) = prior.adjust(np.array([0.5]), 0.1)
    (common,) = prior.adjust(np.array([0.5]), 0.9)
    assert rare == pytest.approx(0.1) and common == pytest.approx(0.9)
    # odds scale by prior odds: 0.8 at 50% (odds 4) → odds 4/9 at 10%
    assert prior.adjust(np.array([0.8]), 0.1)[0] == pytest.approx((4 / 9) / (1 + 4 / 9))


@pytest.mark.parametrize("share", [0.08, 0.3, 0.7, 0.95])
def test_em_recovers_the_share_without_labels(share: float) -> None:
    assert prior.estimate_prior(_calibrated_sample(share)) == pytest.approx(share, abs=0.03)


def test_estimate_stays_inside_the_floor_and_ceiling() -> None:
    assert prior.estimate_prior(np.full(500, 0.999)) == prior.PRIOR_CEILING
    assert prior.estimate_prior(np.full(500, 0.0001)) == prior.PRIOR_FLOOR
    assert prior.estimate_prior(np.array([])) == prior.TRAINING_PRIOR


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return train_model(load_seed_labels())


BORDERLINE = RepoText("acme/autopilot",
                      "Workflow automation platform with AI nodes and 400 integrations",
                      "TypeScript")


def test_the_same_repository_needs_more_evidence_in_a_mostly_non_ai_population(
    model: TrainedModel,
) -> None:
    (probability,) = model._ai_probabilities(feature_columns([BORDERLINE]))
    # the share at which this repository's adjusted probability crosses AI_DECISION
    odds = probability / (1 - probability)
    decision_odds = AI_DECISION / (1 - AI_DECISION)
    crossing = decision_odds / (odds + decision_odds)
    assert 0.05 < crossing < 0.95, "pick a repository the model is unsure about"
    low, high = crossing / 2, (1 + crossing) / 2
    (in_rare,) = model.predict([BORDERLINE], ai_prior=low)
    (in_common,) = model.predict([BORDERLINE], ai_prior=high)
    assert in_rare.category == "other" and "AI share of" in in_rare.rationale
    assert in_common.category != "other"


def test_estimate_ai_prior_needs_a_batch_big_enough_to_say(model: TrainedModel) -> None:
    texts = [label.as_text() for label in load_seed_labels()]
    assert model.estimate_ai_prior(texts[: prior.MIN_BATCH_FOR_ESTIMATE - 1]) is None
    estimated = model.estimate_ai_prior(texts)
    assert estimated is not None and 0.2 < estimated < 0.8  # the seeds are about half AI
