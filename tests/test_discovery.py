"""Query sets and created: slicing (pure functions, no HTTP)."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from collector.discovery import (
    MAX_QUERY_CHARS,
    OPEN_END,
    OPEN_START,
    SEARCH_CAP,
    SLICE_SUFFIX_CHARS,
    Slice,
    Sweep,
    all_500_query_set,
    disjoint_queries,
    load_query_set,
    plan_from_previous,
    render_query,
    splittable,
)
from stackatlas.errors import ConfigError

NOW = date(2026, 11, 1)


def test_shipped_query_set_is_versioned_and_within_github_limits() -> None:
    query_set = load_query_set(None, 500)
    assert query_set.version >= 1
    assert query_set.label.startswith("ai-stack@v")
    assert any(q.startswith("topic:llm ") for q in query_set.queries)
    assert any(q.startswith('llm OR gpt OR "generative ai" ') for q in query_set.queries)
    for query in query_set.queries:
        assert query.endswith("stars:>=500")
        assert len(query) + SLICE_SUFFIX_CHARS <= MAX_QUERY_CHARS
        assert sum(query.split().count(op) for op in ("AND", "OR", "NOT")) <= 5


def test_queries_exclude_the_ones_before_them_and_or_the_keywords() -> None:
    queries = disjoint_queries(["llm", "rag"], ["gpt", "generative ai"], 700)
    assert queries == [
        "topic:llm stars:>=700",
        "topic:rag -topic:llm stars:>=700",
        'gpt OR "generative ai" -topic:llm -topic:rag stars:>=700',
    ]


def test_keywords_beyond_five_operators_go_to_a_second_query() -> None:
    keywords = [f"k{i}" for i in range(8)]
    queries = disjoint_queries([], keywords, 500)
    assert queries == [
        "k0 OR k1 OR k2 OR k3 OR k4 OR k5 stars:>=500",
        "k6 OR k7 stars:>=500",
    ]


def test_all_500_mode_is_one_query_with_the_threshold() -> None:
    assert all_500_query_set(800).queries == ("stars:>=800",)


def test_bad_queries_files_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "q.toml"
    path.write_text('version = 1\ntopics = ["llm", 3]\n')
    with pytest.raises(ConfigError):
        load_query_set(path, 500)
    path.write_text('topics = ["llm"]\n')
    with pytest.raises(ConfigError, match="version"):
        load_query_set(path, 500)
    with pytest.raises(ConfigError, match="not found"):
        load_query_set(tmp_path / "missing.toml", 500)


def test_render_query_with_open_ends() -> None:
    q = "stars:>=500"
    assert render_query(q, OPEN_START, OPEN_END) == q
    assert render_query(q, OPEN_START, date(2020, 1, 1)) == f"{q} created:<=2020-01-01"
    assert render_query(q, date(2020, 1, 2), OPEN_END) == f"{q} created:>=2020-01-02"
    assert render_query(q, date(2020, 1, 2), date(2020, 3, 1)) == (
        f"{q} created:2020-01-02..2020-03-01"
    )


def test_plan_merges_small_neighbours_and_keeps_coverage() -> None:
    q = "stars:>=500"
    day = date(2020, 1, 1)
    leaves = [
        Slice(q, OPEN_START, day, "done", 300),
        Slice(q, day + timedelta(1), day + timedelta(10), "done", 400),
        Slice(q, day + timedelta(11), day + timedelta(20), "done", 800),
        Slice(q, day + timedelta(21), OPEN_END, "done", 100),
    ]
    plan = plan_from_previous(q, leaves)
    assert [(p.lo, p.hi) for p in plan] == [
        (OPEN_START, day + timedelta(10)),
        (day + timedelta(11), OPEN_END),
    ]
    assert all(p.status == "pending" for p in plan)


def test_plan_with_a_gap_or_nothing_starts_from_the_root() -> None:
    q = "stars:>=500"
    gap = [Slice(q, OPEN_START, date(2020, 1, 1), "done", 5),
           Slice(q, date(2020, 1, 3), OPEN_END, "done", 5)]
    assert plan_from_previous(q, gap) == [Slice(q, OPEN_START, OPEN_END)]
    assert plan_from_previous(q, []) == [Slice(q, OPEN_START, OPEN_END)]


def _population(n: int, seed: int) -> list[date]:
    """Creation dates growing steeply towards the present, like GitHub's stars."""
    rng = random.Random(seed)
    start = date(2008, 1, 1)
    span = (NOW - start).days
    return [start + timedelta(days=int(span * rng.random() ** 0.35)) for _ in range(n)]


def _count(dates: list[date], piece: Slice) -> int:
    lo = date.min if piece.lo == OPEN_START else piece.lo
    hi = date.max if piece.hi == OPEN_END else piece.hi
    return sum(lo <= d <= hi for d in dates)


@pytest.mark.parametrize(("n", "seed"), [(3_000, 1), (20_000, 2), (60_000, 3)])
def test_sweep_covers_everything_in_slices_of_at_most_1000(n: int, seed: int) -> None:
    dates = _population(n, seed)
    outer = Slice("q", OPEN_START, OPEN_END, "split", n)
    sweep = Sweep.start(outer, [], NOW)
    leaves: list[Slice] = []
    probes = 0
    while (cursor := sweep.cursor(leaves)) is not None:
        probe = sweep.next_window(cursor)
        count = _count(dates, probe)
        probes += 1
        assert probes < 10 * n / 100, "the sweep does not converge"
        sweep.learn(probe, count)
        if count > SEARCH_CAP and splittable(probe, NOW):
            continue
        leaves.append(Slice("q", probe.lo, probe.hi, "done", count))
    assert sum(leaf.total_count or 0 for leaf in leaves) == n
    assert all((leaf.total_count or 0) <= SEARCH_CAP for leaf in leaves)
    for before, after in itertools.pairwise(leaves):
        assert before.hi + timedelta(days=1) == after.lo
    assert leaves[-1].hi == OPEN_END
    pages = sum(max(1, -(-(leaf.total_count or 0) // 100)) for leaf in leaves)
    wasted = probes - len(leaves)
    ratio = (pages + wasted + 1) / -(-n // 100)  # + 1: the probe of the whole range
    assert ratio <= (1.15 if n >= 20_000 else 1.3)


def test_sweep_resumes_after_its_last_slice() -> None:
    outer = Slice("q", OPEN_START, OPEN_END, "split", 5000)
    done = [Slice("q", OPEN_START, date(2015, 1, 1), "done", 900)]
    sweep = Sweep.start(outer, done, NOW)
    assert sweep.cursor(done) == date(2015, 1, 2)
    assert sweep.next_window(date(2015, 1, 2)).lo == date(2015, 1, 2)
