"""The replay server: GitHub's shapes, paging, limits, conditional requests and injected faults."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import httpx
import pytest

from standins.github import (
    FaultConfig,
    QueryError,
    RateLimitConfig,
    ReplayServer,
    Snapshot,
    SnapshotRepo,
    parse_query,
    search_repos,
)
from standins.github.content import has_readme, star_history
from standins.sample import generate_sample

AUTH = {"Authorization": "Bearer test-token"}


def repo(full_name: str, stars: int, created: str, **fields: object) -> SnapshotRepo:
    return SnapshotRepo(full_name, stars, date.fromisoformat(created), **fields)  # type: ignore[arg-type]


SMALL = [
    repo(
        "acme/ragkit",
        5000,
        "2023-03-16",
        forks=50,
        language="Python",
        topics=("rag", "llm"),
        description="Retrieval-augmented generation for your PDFs",
        license="MIT",
        pushed_at=date(2026, 1, 1),
        stars_as_of=date(2026, 8, 1),
    ),
    repo(
        "lumen-ai/Agent-OS",
        900,
        "2024-06-01",
        forks=400,
        language="TypeScript",
        topics=("agents",),
        description="Build multi-agent systems with LLMs",
        pushed_at=date(2026, 7, 1),
        license="Apache License 2.0",
    ),
    repo(
        "old/webframe",
        20000,
        "2014-02-03",
        forks=10,
        language="Go",
        description="A generative AI free web framework",
        pushed_at=date(2020, 1, 1),
    ),
    repo(
        "zen/diffusion-studio",
        5000,
        "2022-11-30",
        language="python",
        description="Generative AI studio for images",
        topics=("stable-diffusion",),
        archived=True,
    ),
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def small() -> Snapshot:
    return Snapshot(list(SMALL))


@pytest.fixture
def server(small: Snapshot) -> Iterator[ReplayServer]:
    with ReplayServer(small) as running:
        yield running


@pytest.fixture
def client(server: ReplayServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
        yield http


def names(response: httpx.Response) -> list[str]:
    return [item["full_name"] for item in response.json()["items"]]


# ------------------------------------------------------------------------------- query parsing


def test_parse_ranges_and_qualifiers() -> None:
    query = parse_query(
        '"generative ai" stars:>=1000 created:2022-01-01..2023-12-31 language:Python'
    )
    found = search_repos(SMALL, query)
    assert [r.full_name for r in found] == ["zen/diffusion-studio"]  # language is case-insensitive
    assert [r.full_name for r in search_repos(SMALL, "stars:>5000")] == ["old/webframe"]
    assert len(search_repos(SMALL, "stars:<900")) == 0
    assert len(search_repos(SMALL, "stars:<=900")) == 1
    assert len(search_repos(SMALL, "stars:900..5000")) == 3
    assert len(search_repos(SMALL, "stars:5001..*")) == 1
    assert len(search_repos(SMALL, "stars:*..900")) == 1
    assert len(search_repos(SMALL, "created:>=2023-03-16")) == 2
    assert len(search_repos(SMALL, "created:>2023-03-16")) == 1
    assert len(search_repos(SMALL, "created:<2023-03-16")) == 2
    assert len(search_repos(SMALL, "created:2023-03-16")) == 1
    assert len(search_repos(SMALL, "pushed:>2025-12-31")) == 2


def test_keywords_match_words_in_name_description_topics() -> None:
    assert [r.full_name for r in search_repos(SMALL, "RAG")] == ["acme/ragkit"]  # topic
    assert [r.full_name for r in search_repos(SMALL, "agent")] == ["lumen-ai/Agent-OS"]  # name
    assert [r.full_name for r in search_repos(SMALL, "PDF")] == ["acme/ragkit"]  # plural
    assert search_repos(SMALL, "gen") == []  # whole words, not substrings
    assert len(search_repos(SMALL, '"generative ai"')) == 2
    assert len(search_repos(SMALL, "ai web")) == 1  # AND
    assert len(search_repos(SMALL, "rag OR agents")) == 2
    assert len(search_repos(SMALL, "generative NOT images")) == 1
    assert search_repos(SMALL, "ragkit in:description") == []
    assert len(search_repos(SMALL, "ragkit in:name")) == 1


def test_topic_archived_fork_is_user_qualifiers() -> None:
    assert len(search_repos(SMALL, "topic:LLM")) == 1
    assert len(search_repos(SMALL, "archived:false")) == 3
    assert len(search_repos(SMALL, "-archived:true")) == 3
    assert len(search_repos(SMALL, "fork:false is:public")) == 4
    assert search_repos(SMALL, "fork:only") == []
    assert len(search_repos(SMALL, "user:ACME")) == 1
    assert len(search_repos(SMALL, "-language:go")) == 3


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "  ",
        "foo:bar",
        "stars:>lots",
        "created:>=yesterday",
        "archived:maybe",
        'unbalanced "quote',
        "in:title x",
    ],
)
def test_bad_queries_raise(bad: str) -> None:
    with pytest.raises(QueryError):
        parse_query(bad)


def test_sort_orders_with_id_tie_break() -> None:
    by_stars = search_repos(SMALL, "stars:>1", sort="stars")
    assert by_stars[0].full_name == "old/webframe"
    tied = [r for r in by_stars if r.stars == 5000]
    assert [r.id for r in tied] == sorted(r.id for r in tied)
    assert search_repos(SMALL, "stars:>1", sort="forks", order="asc")[0].forks in (None, 0)
    updated = search_repos(SMALL, "stars:>1", sort="updated")
    assert updated[0].full_name == "lumen-ai/Agent-OS"
    assert search_repos(SMALL, "stars:>1")[0].full_name == "old/webframe"  # best match ~ stars


# ------------------------------------------------------------------------------- search endpoint


def test_search_shape(server: ReplayServer, client: httpx.Client) -> None:
    response = client.get("/search/repositories", params={"q": "ragkit"})
    assert response.status_code == 200
    body = response.json()
    assert body["total_count"] == 1 and body["incomplete_results"] is False
    item = body["items"][0]
    for key in (
        "id",
        "node_id",
        "name",
        "full_name",
        "owner",
        "private",
        "html_url",
        "description",
        "fork",
        "url",
        "created_at",
        "updated_at",
        "pushed_at",
        "homepage",
        "size",
        "stargazers_count",
        "watchers_count",
        "forks_count",
        "language",
        "license",
        "topics",
        "archived",
        "disabled",
        "visibility",
        "default_branch",
        "open_issues_count",
        "score",
    ):
        assert key in item, key
    assert item["full_name"] == "acme/ragkit" and item["name"] == "ragkit"
    assert item["owner"]["login"] == "acme" and item["owner"]["type"] in ("User", "Organization")
    assert item["created_at"] == "2023-03-16T00:00:00Z"
    assert item["license"]["spdx_id"] == "MIT" and item["stargazers_count"] == 5000
    assert item["url"] == f"{server.url}/repos/acme/ragkit"
    assert "link" not in response.headers


def test_license_names_map_to_spdx(client: httpx.Client) -> None:
    item = client.get("/repos/lumen-ai/agent-os").json()
    assert item["license"] == {**item["license"], "key": "apache-2.0", "spdx_id": "Apache-2.0"}
    assert client.get("/repos/old/webframe").json()["license"] is None


@pytest.fixture(scope="module")
def big_server() -> Iterator[ReplayServer]:
    rate = RateLimitConfig(search_limit=10_000)
    with ReplayServer(Snapshot(generate_sample(2000, seed=3)), rate_limits=rate) as running:
        yield running


@pytest.fixture
def big(big_server: ReplayServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=big_server.url, headers=AUTH, timeout=10) as http:
        yield http


def links(response: httpx.Response) -> dict[str, int]:
    return {
        rel: int(str(link["url"]).rsplit("page=", 1)[1]) for rel, link in response.links.items()
    }


def test_per_page_default_and_clamp(big: httpx.Client) -> None:
    assert len(big.get("/search/repositories", params={"q": "stars:>=500"}).json()["items"]) == 30
    clamped = big.get("/search/repositories", params={"q": "stars:>=500", "per_page": 500})
    assert len(clamped.json()["items"]) == 100


def test_link_headers_and_thousand_cap(big: httpx.Client) -> None:
    q = {"q": "stars:>=500", "sort": "stars", "order": "desc"}
    first = big.get("/search/repositories", params={**q, "per_page": 30})
    assert first.json()["total_count"] == 2000
    assert links(first) == {"next": 2, "last": 34}  # 1000 / 30, rounded up
    middle = big.get("/search/repositories", params={**q, "per_page": 30, "page": 5})
    assert links(middle) == {"prev": 4, "next": 6, "last": 34, "first": 1}
    assert "q=stars%3A%3E%3D500" in middle.headers["link"]
    last = big.get("/search/repositories", params={**q, "per_page": 30, "page": 34})
    assert len(last.json()["items"]) == 10 and links(last) == {"prev": 33, "first": 1}
    beyond = big.get("/search/repositories", params={**q, "per_page": 100, "page": 11})
    assert beyond.status_code == 422
    assert beyond.json()["message"] == "Only the first 1000 search results are available"
    assert "documentation_url" in beyond.json()


def test_pages_cover_each_result_once(big: httpx.Client) -> None:
    q = {"q": "created:2023-01-01..2023-06-30", "sort": "stars", "per_page": 40}
    seen: list[int] = []
    page = 1
    while True:
        response = big.get("/search/repositories", params={**q, "page": page})
        seen += [item["id"] for item in response.json()["items"]]
        if "next" not in response.links:
            break
        page += 1
    assert len(seen) == len(set(seen)) == response.json()["total_count"] > 40
    stars = [
        r["stargazers_count"]
        for r in big.get("/search/repositories", params={**q, "per_page": 100}).json()["items"]
    ]
    assert stars == sorted(stars, reverse=True)


def test_invalid_queries_get_422(client: httpx.Client) -> None:
    unknown = client.get("/search/repositories", params={"q": "llm colour:blue"})
    assert unknown.status_code == 422
    assert unknown.json()["message"] == "Validation Failed"
    assert unknown.json()["errors"][0]["field"] == "q"
    assert client.get("/search/repositories").json()["errors"][0]["code"] == "missing"


# ------------------------------------------------------------------------------- repos endpoints


def test_repo_by_name_and_id(client: httpx.Client, small: Snapshot) -> None:
    by_name = client.get("/repos/LUMEN-AI/agent-os")
    assert by_name.status_code == 200 and by_name.json()["full_name"] == "lumen-ai/Agent-OS"
    by_id = client.get(f"/repositories/{by_name.json()['id']}")
    assert by_id.json() == by_name.json()
    missing = client.get("/repos/nobody/nothing")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    assert client.get("/repositories/12").status_code == 404
    assert client.get("/repositories/abc").status_code == 404
    assert client.get("/no/such/endpoint").json()["message"] == "Not Found"


def test_rename_by_fault_config_answers_301() -> None:
    faults = FaultConfig(renames={"acme/ragkit": "acme/rag-kit"})
    with (
        ReplayServer(Snapshot(list(SMALL)), faults=faults) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        moved = client.get("/repos/acme/ragkit")
        assert moved.status_code == 301
        repo_id = SMALL[0].id
        assert moved.headers["location"] == f"{server.url}/repositories/{repo_id}"
        assert moved.json()["message"] == "Moved Permanently"
        followed = client.get("/repos/acme/ragkit", follow_redirects=True)
        assert followed.json()["full_name"] == "acme/rag-kit" and followed.json()["id"] == repo_id
        readme = client.get("/repos/acme/ragkit/readme")
        assert readme.headers["location"].endswith(f"/repositories/{repo_id}/readme")
        assert names(client.get("/search/repositories", params={"q": "rag"})) == ["acme/rag-kit"]


def test_replace_snapshot_renames_vanishes_and_changes(
    server: ReplayServer, client: httpx.Client
) -> None:
    ragkit, agent, _webframe, studio = SMALL
    server.replace_snapshot(
        Snapshot(
            [
                replace(ragkit, full_name="acme/ragkit-pro", id=ragkit.id),
                replace(agent, stars=600),
                studio,
            ]
        )
    )
    assert client.get("/repos/acme/ragkit").status_code == 301
    assert client.get("/repos/acme/ragkit-pro").status_code == 200
    assert client.get("/repos/old/webframe").status_code == 404
    assert client.get("/repos/lumen-ai/agent-os").json()["stargazers_count"] == 600
    assert (
        client.get("/search/repositories", params={"q": "stars:>=500"}).json()["total_count"] == 3
    )


# ------------------------------------------------------------------------------- readme


def test_readme_base64_etag_and_304_not_counted(server: ReplayServer, client: httpx.Client) -> None:
    first = client.get("/repos/acme/ragkit/readme")
    assert first.status_code == 200
    body = first.json()
    assert body["encoding"] == "base64" and body["name"] == "README.md" and body["path"]
    lines = body["content"].split("\n")
    assert all(len(line) <= 60 for line in lines) and len(lines[0]) == 60
    text = base64.b64decode(body["content"]).decode()
    assert "Retrieval-augmented generation for your PDFs" in text and body["size"] == len(text)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and etag.endswith('"')
    used = int(first.headers["x-ratelimit-used"])
    again = client.get("/repos/acme/ragkit/readme", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-used"]) == used
    assert server.stats.not_modified == 1 and server.stats.requests["core"] == 1
    stale = client.get("/repos/acme/ragkit/readme", headers={"If-None-Match": 'W/"other"'})
    assert stale.status_code == 200 and int(stale.headers["x-ratelimit-used"]) == used + 1


def test_some_repos_have_no_readme() -> None:
    sample = generate_sample(400, seed=5)
    without = [r for r in sample if not has_readme(r)]
    assert 0.01 < len(without) / len(sample) < 0.15
    with ReplayServer(Snapshot(sample)) as server:
        answer = httpx.get(f"{server.url}/repos/{without[0].full_name}/readme", headers=AUTH)
    assert answer.status_code == 404


# ------------------------------------------------------------------------------- star history


def test_star_history_sums_to_stars() -> None:
    for item in generate_sample(50, seed=9):
        weeks = star_history(item)
        assert sum(w["stars"] for w in weeks) == item.stars
        assert all(sum(w["days"]) == w["stars"] and len(w["days"]) == 7 for w in weeks)
        days = [date.fromisoformat(w["week"]) for w in weeks]
        assert all(d.weekday() == 6 for d in days)  # Sunday
        assert days == sorted(days, reverse=True)
        assert 0 <= (item.created_at - days[-1]).days < 7  # oldest week holds created_at
        assert 0 <= (item.last_seen - days[0]).days < 7


def test_star_history_endpoint_pages(client: httpx.Client) -> None:
    first = client.get("/repos/acme/ragkit/stargazers/history", params={"per_page": 10})
    assert first.status_code == 200 and len(first.json()) == 10
    assert set(links(first)) == {"next", "last"}
    total = 0
    for page in range(1, links(first)["last"] + 1):
        chunk = client.get(
            "/repos/acme/ragkit/stargazers/history", params={"per_page": 10, "page": page}
        ).json()
        total += sum(week["stars"] for week in chunk)
    assert total == 5000
    assert client.get("/repos/acme/nothing/stargazers/history").status_code == 404


# ------------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_and_buckets(server: ReplayServer, client: httpx.Client) -> None:
    search = client.get("/search/repositories", params={"q": "rag"})
    assert search.headers["x-ratelimit-resource"] == "search"
    assert search.headers["x-ratelimit-limit"] == "30"
    assert search.headers["x-ratelimit-remaining"] == "29"
    assert search.headers["x-ratelimit-used"] == "1"
    assert int(search.headers["x-ratelimit-reset"]) >= time.time() + 59
    core = client.get("/repos/acme/ragkit")
    assert core.headers["x-ratelimit-resource"] == "core"
    assert core.headers["x-ratelimit-limit"] == "5000"
    status = client.get("/rate_limit").json()
    assert status["resources"]["search"]["used"] == 1 and status["resources"]["core"]["used"] == 1
    assert status["rate"] == status["resources"]["core"]
    anonymous = httpx.get(f"{server.url}/search/repositories", params={"q": "rag"})
    assert anonymous.headers["x-ratelimit-limit"] == "10"
    assert httpx.get(f"{server.url}/repos/acme/ragkit").headers["x-ratelimit-limit"] == "60"
    assert (
        client.get("/repos/acme/ragkit", headers={"Authorization": "token abc"}).status_code == 200
    )
    assert client.get("/rate_limit", headers={"Authorization": "Basic"}).status_code == 401


def test_empty_bucket_is_403_and_a_violation(small: Snapshot) -> None:
    clock = FakeClock()
    limits = RateLimitConfig(search_limit=3, search_window=2.0)
    with (
        ReplayServer(small, rate_limits=limits, clock=clock) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        answers = [client.get("/search/repositories", params={"q": "rag"}) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 403, 403]
        assert answers[3].json()["message"].startswith("API rate limit exceeded for")
        assert answers[3].headers["x-ratelimit-remaining"] == "0"
        assert int(answers[3].headers["x-ratelimit-reset"]) == int(clock.now + 2)
        assert server.stats.violations == 2 and server.stats.primary_violations == 2
        assert server.stats.requests["search"] == 3
        clock.now += 2.0
        after_reset = client.get("/search/repositories", params={"q": "rag"})
        assert after_reset.status_code == 200
        assert after_reset.headers["x-ratelimit-remaining"] == "2"
        assert client.get("/repos/acme/ragkit").status_code == 200  # other bucket


# ------------------------------------------------------------------------------- faults


def run_with(
    faults: FaultConfig,
    path: str = "/repos/acme/ragkit",
    count: int = 20,
    clock: FakeClock | None = None,
) -> tuple[list[httpx.Response], ReplayServer]:
    with (
        ReplayServer(Snapshot(list(SMALL)), faults=faults, clock=clock) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        answers = [client.get(path) for _ in range(count)]
    return answers, server


def test_server_errors_are_seeded_and_counted() -> None:
    faults = FaultConfig(seed=4, error_rate=0.5)
    answers, server = run_with(faults)
    statuses = [a.status_code for a in answers]
    assert {200, 502, 503} >= set(statuses) and 200 in statuses and len(set(statuses)) > 1
    assert server.stats.faults["server_error"] == sum(s != 200 for s in statuses)
    again, _ = run_with(faults)
    assert [a.status_code for a in again] == statuses
    assert "x-ratelimit-remaining" in next(a for a in answers if a.status_code >= 500).headers


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_and_early_retry_violation(status: int) -> None:
    clock = FakeClock()
    faults = FaultConfig(secondary_limit_rate=1.0, secondary_limit_status=status, retry_after=30)
    answers, server = run_with(faults, count=2, clock=clock)
    first, early = answers
    assert first.status_code == status and first.headers["retry-after"] == "30"
    assert "secondary rate limit" in first.json()["message"]
    assert early.status_code == status
    assert server.stats.faults["secondary_limit"] == 1
    assert server.stats.secondary_violations == 1 and server.stats.violations == 1


def test_waiting_out_retry_after_is_not_a_violation() -> None:
    clock = FakeClock()
    faults = FaultConfig(secondary_limit_rate=0.5, retry_after=5, seed=1)
    with (
        ReplayServer(Snapshot(list(SMALL)), faults=faults, clock=clock) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        for _ in range(10):
            answer = client.get("/repos/acme/ragkit")
            if "retry-after" in answer.headers:
                clock.now += int(answer.headers["retry-after"])
    assert server.stats.faults["secondary_limit"] >= 1 and server.stats.violations == 0


def test_incomplete_results_drop_items() -> None:
    faults = FaultConfig(incomplete_rate=1.0, incomplete_drop=0.5)
    answers, server = run_with(faults, path="/search/repositories?q=stars:>1", count=1)
    body = answers[0].json()
    assert body["incomplete_results"] is True and body["total_count"] == 4
    assert len(body["items"]) == 2
    assert server.stats.faults["incomplete_results"] == 1


def test_latency_is_added() -> None:
    started = time.monotonic()
    _, server = run_with(FaultConfig(latency=0.05), count=4)
    assert time.monotonic() - started >= 0.2
    assert server.stats.faults["latency"] == 4


def test_forced_exhaustion_makes_client_wait() -> None:
    clock = FakeClock()
    faults = FaultConfig(exhausted_buckets=frozenset({"search"}))
    with (
        ReplayServer(
            Snapshot(list(SMALL)),
            faults=faults,
            clock=clock,
            rate_limits=RateLimitConfig(search_window=2),
        ) as server,
        httpx.Client(base_url=server.url, headers=AUTH) as client,
    ):
        blocked = client.get("/search/repositories", params={"q": "rag"})
        assert blocked.status_code == 403 and blocked.headers["x-ratelimit-remaining"] == "0"
        clock.now = float(blocked.headers["x-ratelimit-reset"])
        assert client.get("/search/repositories", params={"q": "rag"}).status_code == 200
        assert server.stats.violations == 1


def test_exhaust_rate_drains_bucket_until_reset() -> None:
    clock = FakeClock()
    answers, server = run_with(FaultConfig(exhaust_rate=1.0), count=2, clock=clock)
    assert answers[0].status_code == 200 and answers[0].headers["x-ratelimit-remaining"] == "0"
    assert answers[1].status_code == 403
    assert server.stats.faults["bucket_exhausted"] == 1 and server.stats.violations == 1


def test_default_faults_are_off(small: Snapshot) -> None:
    answers, server = run_with(FaultConfig(), count=5)
    assert all(a.status_code == 200 for a in answers)
    assert sum(server.stats.faults.values()) == 0 and server.stats.violations == 0
