"""The prompt of the LLM stage and the JSON schema of its answer.

``PROMPT_VERSION`` names this text together with the taxonomy version it describes: a change of
either is a new version, so cached answers of the old prompt are not reused and every LLM label
records the prompt that produced it. Change the version whenever the text below changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from classifier import taxonomy
from classifier.labels import LabeledRepo, RepoText

PROMPT_VERSION = f"p2-taxonomy{taxonomy.TAXONOMY_VERSION}"

DESCRIPTION_CHARS = 300
README_CHARS = 400
MAX_TOPICS = 12
RATIONALE_CHARS = 100
# Room the answer needs per repository: about 35 tokens of keys, id, category, subcategory and
# confidence, plus a rationale of at most RATIONALE_CHARS at two characters a token (English
# runs near four). Completion tokens are what a request's time goes on with a local model, and
# the answer asked for is kept short for that: no echoed name, a one-digit confidence.
COMPLETION_TOKENS_PER_REPO = 35 + RATIONALE_CHARS // 2
COMPLETION_TOKENS_OVERHEAD = 10

REPOSITORIES_HEADING = "Repositories to classify (one JSON object per line):"


def system_prompt() -> str:
    """The instructions: the taxonomy's definitions, its hard cases and the answer format."""
    return (
        f"You classify GitHub repositories into the AI-stack taxonomy (version "
        f"{taxonomy.TAXONOMY_VERSION}). Each repository gets exactly one category.\n\n"
        f"Categories (layer / category: what belongs there; typical subcategories):\n"
        f"{_category_lines()}\n\n"
        f"Hard cases:\n{_hard_case_lines()}\n\n"
        "Answer with JSON only, no prose, in this shape:\n"
        '{"answers": [{"id": <the id given>, "category": "<one of the categories>", '
        '"subcategory": "<a subcategory or null>", "confidence": <0 to 1, one decimal>, '
        '"rationale": "<why, in at most 15 words>"}]}\n'
        "Give one answer per repository, in the order given."
    )


def _category_lines() -> str:
    lines = []
    for category in taxonomy.CATEGORIES.values():
        subcategories = ", ".join(category.subcategories)
        typical = f" Typical subcategories: {subcategories}." if subcategories else ""
        lines.append(f"- {category.layer} / {category.name}: {category.definition}{typical}")
    return "\n".join(lines)


def _hard_case_lines() -> str:
    return "\n".join(f"- {rule}" for rule in taxonomy.HARD_CASES)


def user_prompt(batch: Sequence[RepoText], examples: Sequence[LabeledRepo]) -> str:
    """The few-shot examples, then the repositories of the batch with ids 1..n."""
    parts = []
    if examples:
        parts.append("Labelled examples of similar repositories:")
        parts.extend(_example_line(example) for example in examples)
        parts.append("")
    parts.append(REPOSITORIES_HEADING)
    parts.extend(
        json.dumps(repository_item(position, repo), ensure_ascii=False)
        for position, repo in enumerate(batch, start=1)
    )
    return "\n".join(parts)


def build_messages(
    batch: Sequence[RepoText], examples: Sequence[LabeledRepo]
) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system_prompt()},
        {"role": "user", "content": user_prompt(batch, examples)},
    ]


def repository_item(position: int, repo: RepoText) -> dict[str, Any]:
    """One repository as the LLM sees it; empty fields are left out."""
    item: dict[str, Any] = {"id": position, "full_name": repo.full_name}
    if repo.description:
        item["description"] = _clip(repo.description, DESCRIPTION_CHARS)
    if repo.topics:
        item["topics"] = list(repo.topics)[:MAX_TOPICS]
    if repo.language:
        item["language"] = repo.language
    if repo.readme:
        item["readme"] = _clip(repo.readme, README_CHARS)
    return item


def _example_line(example: LabeledRepo) -> str:
    description = _clip(example.description, 160) or "(no description)"
    subcategory = f" / {example.subcategory}" if example.subcategory else ""
    return f"- {example.full_name}: {description} => {example.category}{subcategory}"


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def answer_schema() -> dict[str, Any]:
    """JSON schema of the answer (strict-mode compatible: every field required, no extras)."""
    answer = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "category": {"type": "string", "enum": list(taxonomy.CATEGORIES)},
            "subcategory": {"type": ["string", "null"]},
            "confidence": {"type": "number"},
            "rationale": {"type": "string"},
        },
        "required": ["id", "category", "subcategory", "confidence", "rationale"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"answers": {"type": "array", "items": answer}},
        "required": ["answers"],
        "additionalProperties": False,
    }


CONFIDENCES = [round(tenth / 10, 1) for tenth in range(11)]


def bounded_answer_schema(count: int) -> dict[str, Any]:
    """``answer_schema`` for a batch of ``count`` repositories, for servers that compile the
    schema into a sampling grammar (llama.cpp's JSON mode): answer ``i`` has id ``i`` (so each
    repository gets exactly one), the subcategory is one of the taxonomy's, the confidence one
    decimal and the rationale bounded, so that every answer finishes within
    ``completion_budget(count)`` and parses."""
    item = answer_schema()["properties"]["answers"]["items"]
    subcategories = sorted({s for c in taxonomy.CATEGORIES.values() for s in c.subcategories})
    properties = {
        **item["properties"],
        "subcategory": {"enum": [*subcategories, None]},
        "confidence": {"enum": CONFIDENCES},
        "rationale": {"type": "string", "maxLength": RATIONALE_CHARS},
    }
    answers = [
        {**item, "properties": {**properties, "id": {"const": position}}}
        for position in range(1, count + 1)
    ]
    return {
        "type": "object",
        "properties": {
            "answers": {"type": "array", "prefixItems": answers, "items": False,
                        "minItems": count, "maxItems": count},
        },
        "required": ["answers"],
        "additionalProperties": False,
    }


def completion_budget(batch_size: int) -> int:
    """The ``max_tokens`` a request for ``batch_size`` repositories needs."""
    return COMPLETION_TOKENS_OVERHEAD + COMPLETION_TOKENS_PER_REPO * batch_size


def repository_fingerprint(repo: RepoText) -> str:
    """The cache key of a repository: a hash of exactly what the LLM is shown about it."""
    item = repository_item(0, repo)
    del item["id"]
    item["full_name"] = repo.full_name.lower()
    payload = json.dumps(item, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
