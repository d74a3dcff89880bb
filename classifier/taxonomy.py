"""The AI-stack taxonomy in code: layers, categories, subcategories and the hard-case rules.

One versioned source for prompts, docs, the API (`GET /v1/taxonomy`) and label validation.
A change of rules is a new ``TAXONOMY_VERSION``, never a silent edit, because every stored label
records the version it was given under.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TAXONOMY_VERSION = "1"

LAYERS: tuple[str, ...] = ("application", "model", "infrastructure", "none")

NOT_AI_CATEGORY = "other"


@dataclass(frozen=True)
class Category:
    name: str
    layer: str
    definition: str
    subcategories: tuple[str, ...]


CATEGORIES: dict[str, Category] = {
    category.name: category
    for category in (
        Category(
            "applications",
            "application",
            "Finished products built on models that people use directly: they install or open "
            "them to get a job done, not to build something else.",
            (
                "coding", "bots", "information aggregation", "image production", "video",
                "writing", "education", "data organisation", "workflow automation",
                "productivity", "personal assistant", "research", "domain specialist",
                "model wrapper", "computer vision",
            ),
        ),
        Category(
            "app-development",
            "application",
            "Tools for building applications on top of existing models without changing their "
            "weights (AI engineering): prompting, context and retrieval, agents, interfaces, "
            "frameworks and the evaluation of applications.",
            (
                "prompt engineering", "context construction", "agents", "agent tools",
                "ai interface", "application framework", "application evaluation",
                "model access", "speech and vision io",
            ),
        ),
        Category(
            "models",
            "model",
            "The code released together with one specific model or model family (weights, "
            "inference scripts, model cards).",
            ("language", "multimodal", "multilingual", "vision", "speech", "embedding",
             "domain-specific"),
        ),
        Category(
            "model-development",
            "model",
            "Tools for building, training, adapting and optimising models: anything that changes "
            "weights (fine-tuning included), plus inference optimisation, dataset engineering "
            "and model evaluation.",
            (
                "modelling and training", "fine-tuning", "deep learning framework",
                "classical ml", "inference optimisation", "dataset engineering",
                "model evaluation", "interpretability", "reinforcement learning",
            ),
        ),
        Category(
            "infrastructure",
            "infrastructure",
            "What models and applications run on: serving, compute and resource management, "
            "vector search and storage, data management, gateways, monitoring and observability.",
            (
                "serving", "compute", "vector database", "search", "data management",
                "monitoring", "gateway", "orchestration", "model hub",
            ),
        ),
        Category(
            "tutorials",
            "none",
            "Courses, books, notebooks, roadmaps and example collections that teach AI.",
            (
                "ml fundamentals", "llm fundamentals", "ai engineering roadmap",
                "ml engineering roadmap", "getting started", "interview preparation",
                "tool-specific", "prompt engineering",
            ),
        ),
        Category(
            "lists",
            "none",
            "Curated link lists about AI (\"awesome-llm\" and the like).",
            ("tools", "papers", "prompts", "models", "datasets", "use cases"),
        ),
        Category(
            NOT_AI_CATEGORY,
            "none",
            "Anything not about AI: web frameworks, editors, general databases, operating "
            "systems, games, non-AI tutorials and lists, and search false positives (GPT "
            "partition tools, monitoring 'agents').",
            (),
        ),
    )
}

HARD_CASES: tuple[str, ...] = (
    "A fine-tuning library is model-development (it changes weights); a prompt-optimisation "
    "library is app-development (it does not).",
    "A local chat UI for many models is app-development (an AI interface) when it is a toolkit "
    "for others to build on, applications when it is an end product for people.",
    "An inference server (vLLM, TGI) is infrastructure (serving); a quantisation or kernel "
    "library (GGML, bitsandbytes) is model-development (inference optimisation).",
    "A product whose main purpose is not AI but that has AI features (workflow tools, note apps, "
    "API gateways for any HTTP service) is other.",
    "GPT partition tools, system monitoring agents and other name clashes with AI words are "
    "other.",
    "A curated list about AI is lists; a curated list about anything else is other. A course or "
    "book about AI is tutorials; a course about web development is other.",
    "Reference labellers disagree on about a quarter of categories: report a confidence.",
)

# Variants seen in the reference labels files, keyed by (category, lower-cased variant) first and
# (None, variant) second, because some variants ("toolings") mean different things per category.
_SUBCATEGORY_ALIASES: dict[tuple[str | None, str], str] = {
    # applications
    (None, "info aggregation"): "information aggregation",
    (None, "data organization"): "data organisation",
    (None, "content creation"): "writing",
    (None, "personal"): "personal assistant",
    (None, "research & knowledge"): "research",
    (None, "specialists"): "domain specialist",
    (None, "wrappers"): "model wrapper",
    (None, "object detection"): "computer vision",
    # app-development
    (None, "ai interface"): "ai interface",
    (None, "aie framework"): "application framework",
    (None, "access models"): "model access",
    (None, "agent"): "agents",
    (None, "bring agent to users"): "ai interface",
    (None, "build agent ui"): "ai interface",
    (None, "build agent workflow (sdk)"): "agents",
    (None, "build agent workflow (visual)"): "agents",
    (None, "evals"): "application evaluation",
    (None, "test & guard"): "application evaluation",
    (None, "give agent knowledge"): "context construction",
    (None, "rag"): "context construction",
    (None, "give agent tools"): "agent tools",
    (None, "protocols"): "agent tools",
    (None, "make agent see hear talk"): "speech and vision io",
    (None, "prompt & scaffold"): "prompt engineering",
    ("app-development", "dataset engineering"): "context construction",
    # models
    (None, "foundation models"): "language",
    (None, "language-specific models"): "multilingual",
    (None, "audio/speech models"): "speech",
    (None, "vision models"): "vision",
    (None, "domain-specific models"): "domain-specific",
    (None, "embedding models"): "embedding",
    # model-development
    (None, "modeling & training"): "modelling and training",
    (None, "modeling and training"): "modelling and training",
    (None, "architecture"): "modelling and training",
    (None, "domain-specific training"): "modelling and training",
    (None, "llm training"): "modelling and training",
    (None, "training toolkits"): "modelling and training",
    ("model-development", "toolings"): "modelling and training",
    (None, "deep learning frameworks"): "deep learning framework",
    (None, "environments"): "reinforcement learning",
    (None, "inference optimization"): "inference optimisation",
    ("model-development", "model optimization"): "inference optimisation",
    ("model-development", "kernels"): "inference optimisation",
    (None, "evaluation"): "model evaluation",
    # infrastructure
    (None, "vectordb"): "vector database",
    (None, "vector db"): "vector database",
    (None, "compute management"): "compute",
    (None, "data systems"): "data management",
    (None, "deploy & serve"): "serving",
    (None, "inference service optimization"): "serving",
    ("infrastructure", "kernels"): "serving",
    ("infrastructure", "model optimization"): "serving",
    ("infrastructure", "toolings"): "orchestration",
    ("infrastructure", "give agent knowledge"): "data management",
    (None, "index & search"): "search",
    (None, "make world agent-ready"): "gateway",
    (None, "observability"): "monitoring",
    # tutorials
    (None, "aie roadmap"): "ai engineering roadmap",
    (None, "mle roadmap"): "ml engineering roadmap",
    (None, "ml/ai fundamentals"): "ml fundamentals",
    (None, "interview guide"): "interview preparation",
    (None, "tool-specific tutorials"): "tool-specific",
    # lists
    (None, "dataset collections"): "datasets",
    (None, "model collections"): "models",
    (None, "paper collections"): "papers",
    (None, "prompt collections"): "prompts",
    (None, "tool collections"): "tools",
    ("lists", "prompt engineering"): "prompts",
}


def layer_of(category: str) -> str:
    """The layer a category belongs to; ValueError for a category outside the taxonomy."""
    try:
        return CATEGORIES[category].layer
    except KeyError:
        raise ValueError(
            f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}"
        ) from None


def is_ai(category: str) -> bool:
    """Every category but ``other`` is about AI."""
    layer_of(category)
    return category != NOT_AI_CATEGORY


def _clean(variant: str) -> str:
    return re.sub(r"[\s_]+", " ", variant.strip().lower())


def normalise_subcategory(category: str, raw: str | None) -> str:
    """The canonical subcategory of ``category`` named by ``raw``, or "" when none fits.

    ``raw`` may be a comma-separated list (the labels files carry several); the first part that
    maps to a subcategory of ``category`` wins.
    """
    allowed = CATEGORIES[category].subcategories if category in CATEGORIES else ()
    for part in (raw or "").split(","):
        variant = _clean(part)
        if not variant:
            continue
        canonical = _SUBCATEGORY_ALIASES.get(
            (category, variant), _SUBCATEGORY_ALIASES.get((None, variant), variant)
        )
        if canonical in allowed:
            return canonical
    return ""


def taxonomy_as_dict() -> dict[str, Any]:
    """The whole taxonomy as plain JSON-ready data (for the API, prompts and docs)."""
    return {
        "version": TAXONOMY_VERSION,
        "layers": list(LAYERS),
        "categories": [
            {
                "name": category.name,
                "layer": category.layer,
                "is_ai": category.name != NOT_AI_CATEGORY,
                "definition": category.definition,
                "subcategories": list(category.subcategories),
            }
            for category in CATEGORIES.values()
        ],
        "hard_cases": list(HARD_CASES),
    }
