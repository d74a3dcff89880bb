"""When two labelled rows are the same repository, or one's description copies the other's.

Repositories move: an owner renames itself or hands the project to an organisation
(``jmorganca/ollama`` → ``ollama/ollama``, ``ggerganov/llama.cpp`` → ``ggml-org/llama.cpp``), and
some change their name too (``cpacker/MemGPT`` → ``letta-ai/letta``). A score is honest only if
no training row is a gold repository under another name, and the seed labels must describe in
their own words, so both checks live here: ``same_repository`` (same name with any owner, the
name compared without case or punctuation, or a known move) and ``near_copies`` (token Jaccard
of the descriptions at least ``NEAR_COPY_JACCARD``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

NEAR_COPY_JACCARD = 0.7

# Moves that changed the repository's name as well as (or instead of) its owner, so that the
# name alone does not tell; each group is one repository under its successive names.
KNOWN_MOVES: tuple[tuple[str, ...], ...] = (
    ("jerryjliu/gpt_index", "jerryjliu/llama_index", "run-llama/llama_index"),
    ("OpenDevin/OpenDevin", "All-Hands-AI/OpenHands", "OpenHands/OpenHands"),
    ("Yidadaa/ChatGPT-Next-Web", "ChatGPTNextWeb/ChatGPT-Next-Web", "ChatGPTNextWeb/NextChat"),
    ("hiyouga/LLaMA-Efficient-Tuning", "hiyouga/LLaMA-Factory"),
    ("cpacker/MemGPT", "letta-ai/letta"),
    ("embedchain/embedchain", "mem0ai/mem0"),
    ("FMInference/FlexGen", "FMInference/FlexLLMGen"),
    ("imClumsyPanda/langchain-ChatGLM", "chatchat-space/Langchain-Chatchat"),
    ("ollama-webui/ollama-webui", "open-webui/open-webui"),
    ("microsoft/visual-chatgpt", "microsoft/TaskMatrix"),
    ("apache/incubator-mxnet", "apache/mxnet"),
    ("huggingface/pytorch-pretrained-BERT", "huggingface/pytorch-transformers",
     "huggingface/transformers"),
    ("PyTorchLightning/pytorch-lightning", "Lightning-AI/lightning",
     "Lightning-AI/pytorch-lightning"),
    ("Torantulino/Auto-GPT", "Significant-Gravitas/Auto-GPT", "Significant-Gravitas/AutoGPT"),
    ("KillianLucas/open-interpreter", "openinterpreter/open-interpreter"),
    ("gventuri/pandas-ai", "sinaptik-ai/pandas-ai", "pandas-ai/pandas-ai"),
    ("imartinez/privateGPT", "zylon-ai/private-gpt"),
)


class Described(Protocol):
    full_name: str
    description: str


RowT = TypeVar("RowT", bound=Described)


def name_key(full_name: str) -> str:
    """The repository part of owner/name, lower-cased, without '-', '_', '.' or spaces."""
    return re.sub(r"[\W_]+", "", full_name.rpartition("/")[2].lower())


_MOVED = {full_name.lower(): group[-1].lower() for group in KNOWN_MOVES for full_name in group}


def identity_keys(full_name: str) -> set[str]:
    """Keys shared by every name a repository has had: its name key and its known-move group."""
    keys = {f"name:{name_key(full_name)}"}
    moved = _MOVED.get(full_name.lower())
    if moved is not None:
        keys |= {f"name:{name_key(other)}" for other in _group_of(moved)}
    return keys


def _group_of(latest: str) -> list[str]:
    return [name for name, final in _MOVED.items() if final == latest]


def same_repository(first: str, second: str) -> bool:
    """Whether two owner/name strings may be one repository (renamed, moved or identical)."""
    return bool(identity_keys(first) & identity_keys(second))


def description_tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _token_matrix(texts: Sequence[str], vectoriser: CountVectorizer) -> np.ndarray:
    return vectoriser.transform(texts).astype(bool).astype(np.int32)


def near_copies(ours: Sequence[str], theirs: Sequence[str],
                threshold: float = NEAR_COPY_JACCARD) -> list[int | None]:
    """For each of ``ours``, the index of a description in ``theirs`` with token Jaccard at
    least ``threshold`` (None when there is none, or when the description is empty)."""
    if not any(description_tokens(text) for text in ours) or not theirs:
        return [None] * len(ours)
    vectoriser = CountVectorizer(token_pattern=r"\w+", lowercase=True, binary=True)
    vectoriser.fit([*ours, *theirs])
    mine, other = _token_matrix(ours, vectoriser), _token_matrix(theirs, vectoriser)
    shared = (mine @ other.T).toarray()
    sizes_mine = np.asarray(mine.sum(axis=1)).ravel()
    sizes_other = np.asarray(other.sum(axis=1)).ravel()
    union = sizes_mine[:, None] + sizes_other[None, :] - shared
    jaccard = np.divide(shared, union, out=np.zeros(shared.shape), where=union > 0)
    matches: list[int | None] = []
    for row in range(len(ours)):
        best = int(jaccard[row].argmax())
        found = sizes_mine[row] > 0 and jaccard[row, best] >= threshold
        matches.append(best if found else None)
    return matches


def overlapping(rows: Sequence[Described], reference: Sequence[Described]) -> list[str | None]:
    """For each row, why it overlaps the reference rows (None when it does not): the same
    repository under another (or the same) name, or a near-copy of a reference description."""
    by_key: dict[str, str] = {}
    for ref in reference:
        for key in identity_keys(ref.full_name):
            by_key.setdefault(key, ref.full_name)
    copies = near_copies([row.description for row in rows],
                         [ref.description for ref in reference])
    reasons: list[str | None] = []
    for row, copy in zip(rows, copies, strict=True):
        same = next((by_key[k] for k in identity_keys(row.full_name) if k in by_key), None)
        if same is not None:
            reasons.append(f"same repository as {same}")
        elif copy is not None:
            reasons.append(f"description copies {reference[copy].full_name}")
        else:
            reasons.append(None)
    return reasons


def without_overlap(rows: Iterable[RowT], reference: Sequence[Described]) -> list[RowT]:
    """``rows`` minus those that overlap ``reference`` (see ``overlapping``)."""
    rows = list(rows)
    return [row for row, why in zip(rows, overlapping(rows, reference), strict=True)
            if why is None]
