"""The generated sample snapshot: deterministic, plausible, and covering the whole taxonomy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from standins.github.snapshot import load_snapshot
from standins.sample import (
    LAYERS,
    generate_labelled,
    generate_population,
    generate_sample,
    write_sample,
    write_sample_labels,
)

TAXONOMY = Path(__file__).resolve().parents[1].parent / "shared" / "taxonomy.md"


def test_deterministic_per_seed() -> None:
    assert generate_sample(300, seed=7) == generate_sample(300, seed=7)
    assert generate_sample(300, seed=7) != generate_sample(300, seed=8)


def test_size_uniqueness_and_star_floor() -> None:
    repos = generate_sample()
    assert len(repos) == 2000
    assert len({r.full_name.lower() for r in repos}) == 2000
    assert len({r.id for r in repos}) == 2000
    assert min(r.stars for r in repos) >= 500
    assert 3 <= sum(r.stars > 50_000 for r in repos) <= 60
    assert [r.stars for r in repos] == sorted((r.stars for r in repos), reverse=True)
    assert all("/" in r.full_name and r.full_name.count("/") == 1 for r in repos)


def test_dates_peak_in_2023() -> None:
    repos = generate_sample()
    years = Counter(r.created_at.year for r in repos)
    assert min(years) >= 2012 and max(years) <= 2026
    assert years.most_common(1)[0][0] == 2023
    assert all(r.created_at <= r.pushed_at <= r.stars_as_of for r in repos)  # type: ignore[operator]


def test_every_category_and_the_non_ai_share() -> None:
    labelled = generate_labelled()
    categories = Counter(item.category for item in labelled)
    assert set(categories) == set(LAYERS)
    if TAXONOMY.exists():
        for category in LAYERS:
            assert f"`{category}`" in TAXONOMY.read_text()
    assert 0.2 <= categories["other"] / len(labelled) <= 0.3
    subcategories = {item.subcategory for item in labelled}
    assert any(s.startswith("false positive") for s in subcategories)
    assert all(item.layer == LAYERS[item.category] for item in labelled)


def test_fields_are_filled_like_github() -> None:
    repos = generate_sample()
    with_description = sum(bool(r.description) for r in repos)
    assert 0.9 < with_description / len(repos) < 1
    assert len({r.language for r in repos}) >= 10
    assert len({r.license for r in repos}) >= 6
    assert sum(bool(r.topics) for r in repos) > len(repos) / 2


def test_descriptions_carry_the_category() -> None:
    """A plain text classifier must be able to learn the categories from the sample."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    labelled = generate_labelled(1500, seed=1)
    texts = [
        f"{i.repo.name} {i.repo.description or ''} {' '.join(i.repo.topics)}" for i in labelled
    ]
    labels = [i.category for i in labelled]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    features = vectorizer.fit_transform(texts)
    model = LinearSVC().fit(features[:1000], labels[:1000])
    assert model.score(features[1000:], labels[1000:]) > 0.9


def test_population_is_big_and_unique() -> None:
    population = generate_population(20_000, seed=11)
    assert len({r.full_name.lower() for r in population}) == 20_000
    assert sum(r.created_at.year == 2023 for r in population) > 1000


def test_write_sample_round_trips(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "sample.tsv", n=200, seed=3)
    assert list(load_snapshot(path)) == generate_sample(200, seed=3)
    labels = write_sample_labels(tmp_path / "labels.tsv", n=200, seed=3).read_text().splitlines()
    assert labels[0].split("\t")[-4:] == ["layer", "category", "subcategory", "label_source"]
    assert len(labels) == 201 and all(len(line.split("\t")) == 10 for line in labels)
