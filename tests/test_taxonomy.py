"""The taxonomy in code: consistent, versioned, and normalising the labels files' variants."""

from __future__ import annotations

import json

import pytest

from classifier import taxonomy


def test_every_category_has_a_known_layer_and_unique_subcategories() -> None:
    assert set(taxonomy.CATEGORIES) == {
        "applications", "app-development", "models", "model-development", "infrastructure",
        "tutorials", "lists", "other",
    }
    for category in taxonomy.CATEGORIES.values():
        assert category.layer in taxonomy.LAYERS
        assert category.definition
        assert len(set(category.subcategories)) == len(category.subcategories)


def test_layer_of_and_is_ai() -> None:
    assert taxonomy.layer_of("infrastructure") == "infrastructure"
    assert taxonomy.layer_of("app-development") == "application"
    assert taxonomy.layer_of("lists") == "none"
    assert taxonomy.is_ai("tutorials") and not taxonomy.is_ai("other")
    with pytest.raises(ValueError, match="use one of: applications"):
        taxonomy.layer_of("robots")


@pytest.mark.parametrize(
    ("category", "raw", "expected"),
    [
        ("infrastructure", "VectorDB", "vector database"),
        ("model-development", "Modeling & training", "modelling and training"),
        ("app-development", "Give agent tools,Build agent workflow (SDK)", "agent tools"),
        ("model-development", "Toolings", "modelling and training"),
        ("infrastructure", "Toolings", "orchestration"),
        ("lists", "Prompt engineering", "prompts"),
        ("tutorials", "Prompt engineering", "prompt engineering"),
        ("applications", "Coding", "coding"),
        ("models", "", ""),
        ("models", "something new", ""),
    ],
)
def test_normalise_subcategory(category: str, raw: str, expected: str) -> None:
    assert taxonomy.normalise_subcategory(category, raw) == expected


def test_aliases_point_at_canonical_subcategories() -> None:
    canonical = {s for c in taxonomy.CATEGORIES.values() for s in c.subcategories}
    assert set(taxonomy._SUBCATEGORY_ALIASES.values()) <= canonical


def test_taxonomy_as_dict_is_json_and_versioned() -> None:
    data = json.loads(json.dumps(taxonomy.taxonomy_as_dict()))
    assert data["version"] == taxonomy.TAXONOMY_VERSION == "1"
    names = [c["name"] for c in data["categories"]]
    assert names == list(taxonomy.CATEGORIES)
    assert [c["is_ai"] for c in data["categories"]].count(False) == 1
    assert data["hard_cases"]
