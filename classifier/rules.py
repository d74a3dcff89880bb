"""High-precision rules that decide a repository before the model does.

Each rule fires only on unmistakable evidence (an "awesome-" list, a disk partitioning tool);
anything less is left to the model. A rule answers with a category and a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifier.labels import RepoText

RULE_CONFIDENCE = 0.95

_AI_WORDS = re.compile(
    r"\b(ai|a\.i\.|llms?|gpts?|chatgpt|machine[- ]learning|deep[- ]learning|neural|"
    r"artificial intelligence|large language models?|generative ai|diffusion|agents?|agi|"
    r"nlp|computer vision|transformers?|prompts?|rag|mcp|claude|openai|langchain|deepseek|"
    r"llama|qwen|gemini|yolo|object detection|speech|bots?|chatbots?|"
    r"reinforcement learning|ml|mlops|llmops|genai|copilot)\b"
)
_AWESOME_NAME = re.compile(r"^awesome[-_]|[-_]awesome$|^awesome$", re.IGNORECASE)
_CURATED = re.compile(r"^\W*(a\s+)?(curated|awesome)\s+(list|collection)", re.IGNORECASE)
_PARTITION = re.compile(
    r"\b(gpt|mbr|guid partition|partition table|fdisk|disk partition|efi system|bootloader)\b"
)
_DISK = re.compile(r"\b(disk|partition|boot|uefi|bios|sector|drive)\b")


@dataclass(frozen=True)
class RuleMatch:
    category: str
    reason: str


def _words(repo: RepoText) -> str:
    return " ".join([repo.name.replace("-", " "), repo.description, " ".join(repo.topics)]).lower()


def _curated_list(repo: RepoText) -> RuleMatch | None:
    if not (_AWESOME_NAME.search(repo.name) or _CURATED.search(repo.description)):
        return None
    about = " ".join([repo.name.replace("-", " ").replace("_", " "), repo.description]).lower()
    if _AI_WORDS.search(about):
        return RuleMatch("lists", "curated list about AI")
    return RuleMatch("other", "curated list, not about AI")


def _partition_tool(repo: RepoText) -> RuleMatch | None:
    words = _words(repo)
    if _PARTITION.search(words) and _DISK.search(words) and not _AI_WORDS.search(
        words.replace("gpt", "")
    ):
        return RuleMatch("other", "disk partitioning tool (GPT = GUID partition table)")
    return None


RULES = (_curated_list, _partition_tool)


def apply_rules(repo: RepoText) -> RuleMatch | None:
    """The first rule that fires for ``repo``, or None."""
    for rule in RULES:
        match = rule(repo)
        if match is not None:
            return match
    return None
