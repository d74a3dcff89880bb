"""Few-shot context: the labelled examples most similar to a batch of repositories.

Similarity is TF-IDF cosine over name, description and topics (scikit-learn), which is fast
enough to rebuild per run over a few thousand examples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from classifier.labels import LabeledRepo

_NAME_SEPARATORS = re.compile(r"[-_./]+")


class HasRepoText(Protocol):
    full_name: str
    description: str
    topics: list[str]


def similarity_document(repo: HasRepoText) -> str:
    """The text two repositories are compared by: name words, description and topics."""
    name_words = _NAME_SEPARATORS.sub(" ", repo.full_name)
    topics = " ".join(_NAME_SEPARATORS.sub(" ", topic) for topic in repo.topics or [])
    return f"{name_words} {repo.description or ''} {topics}".strip()


class FewShotIndex:
    """Finds the ``k`` labelled examples nearest to a batch of repositories."""

    def __init__(self, examples: Sequence[LabeledRepo], k: int = 8) -> None:
        self.examples = list(examples)
        self.k = k
        self._vectorizer: TfidfVectorizer | None = None
        if self.examples and k > 0:
            self._vectorizer = TfidfVectorizer(
                ngram_range=(1, 2), sublinear_tf=True, min_df=1, strip_accents="unicode"
            )
            self._matrix = self._vectorizer.fit_transform(
                [similarity_document(example) for example in self.examples]
            )

    def nearest(self, batch: Sequence[HasRepoText]) -> list[LabeledRepo]:
        """Up to ``k`` examples, taken in turns from each repository's nearest neighbours.

        Taking turns keeps one repository with many close neighbours from filling the context.
        An example with the same name as a repository of the batch is never chosen (it would
        hand the answer over, and would flatter any evaluation).
        """
        if self._vectorizer is None or not batch:
            return []
        queries = self._vectorizer.transform([similarity_document(repo) for repo in batch])
        scores = linear_kernel(queries, self._matrix)
        batch_names = {repo.full_name.lower() for repo in batch}
        rankings = [np.argsort(-row, kind="stable") for row in scores]
        chosen: list[int] = []
        for rank in range(len(self.examples)):
            if all(scores[row, ranking[rank]] <= 0 for row, ranking in enumerate(rankings)):
                break
            for row, ranking in enumerate(rankings):
                index = int(ranking[rank])
                if scores[row, index] <= 0 or index in chosen:
                    continue
                if self.examples[index].full_name.lower() in batch_names:
                    continue
                chosen.append(index)
                if len(chosen) >= self.k:
                    return [self.examples[i] for i in chosen]
        return [self.examples[i] for i in chosen]
