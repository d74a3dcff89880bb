"""Adapting the "is AI" probabilities to the AI share of the repositories being classified.

The "is AI" stage is trained with AI and non-AI rows weighted equally, so its probabilities hold
for a population that is half AI. Real populations are not: a crawl of AI topics is mostly AI, an
enumeration of every repository with 500+ stars mostly not. Given the share (the prior) of the
population at hand, Bayes' rule moves each probability to that population; the share itself is
estimated without labels by the EM procedure of Saerens, Latinne and Decaestecker (2002),
"Adjusting the outputs of a classifier to new a priori probabilities".
"""

from __future__ import annotations

import numpy as np

TRAINING_PRIOR = 0.5  # the class weights of the "is AI" stage make its population half AI
PRIOR_FLOOR, PRIOR_CEILING = 0.01, 0.99  # a prior of 0 or 1 would make every label certain
EM_ITERATIONS = 200
EM_TOLERANCE = 1e-6
# Fewer repositories than this say too little about their population's share: keep the default.
MIN_BATCH_FOR_ESTIMATE = 100


def clip_prior(prior: float) -> float:
    return float(min(PRIOR_CEILING, max(PRIOR_FLOOR, prior)))


def adjust(probabilities: np.ndarray, prior: float,
           training_prior: float = TRAINING_PRIOR) -> np.ndarray:
    """P(AI) under ``training_prior`` → P(AI) in a population whose AI share is ``prior``."""
    prior = clip_prior(prior)
    ai = probabilities * (prior / training_prior)
    not_ai = (1.0 - probabilities) * ((1.0 - prior) / (1.0 - training_prior))
    return ai / np.maximum(ai + not_ai, 1e-12)


def estimate_prior(probabilities: np.ndarray, training_prior: float = TRAINING_PRIOR) -> float:
    """The AI share of the population ``probabilities`` were drawn from (EM, no labels needed)."""
    if len(probabilities) == 0:
        return training_prior
    prior = training_prior
    for _ in range(EM_ITERATIONS):
        updated = clip_prior(float(adjust(probabilities, prior, training_prior).mean()))
        if abs(updated - prior) < EM_TOLERANCE:
            return updated
        prior = updated
    return prior
