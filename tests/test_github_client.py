"""The httpx client: headers, limits, retries, incomplete pages, READMEs, renames."""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import Callable

import httpx
import pytest

from collector.github import GitHubClient
from collector.ratelimit import RateLimiter
from stackatlas.errors import GitHubError
from tests.test_ratelimit import FakeClock

TOKEN = "ghp_MARKER_never_in_logs_123"
Handler = Callable[[httpx.Request], httpx.Response]


def limit_headers(remaining: int = 29, reset: float = 1_000_060, resource: str = "search") -> dict:
    return {
        "x-ratelimit-limit": "30",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
        "x-ratelimit-resource": resource,
    }


def search_body(ids: list[int], total: int | None = None, incomplete: bool = False) -> dict:
    items = [
        {"id": i, "full_name": f"o/r{i}", "stargazers_count": 600, "created_at": None}
        for i in ids
    ]
    return {"total_count": total if total is not None else len(ids),
            "incomplete_results": incomplete, "items": items}


def make_client(handler: Handler, clock: FakeClock, **kwargs: object) -> GitHubClient:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, reset_margin=1.0)
    return GitHubClient(
        "https://api.example", TOKEN, transport=httpx.MockTransport(handler), limiter=limiter,
        rng=random.Random(0), max_retries=3, **kwargs,  # type: ignore[arg-type]
    )


def test_token_goes_in_the_authorization_header_only() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=search_body([1]), headers=limit_headers())

    with make_client(handler, FakeClock()) as client:
        page = client.search_repositories("stars:>=500")
    assert page.total_count == 1
    request = seen[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)
    assert request.url.params["per_page"] == "100"
    assert request.url.params["sort"] == "stars"


def test_secondary_limit_holds_requests_for_retry_after() -> None:
    clock = FakeClock()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now)
        if len(sent_at) == 1:
            return httpx.Response(403, json={"message": "You have exceeded a secondary rate limit"},
                                  headers={**limit_headers(), "retry-after": "42"})
        return httpx.Response(200, json=search_body([1]), headers=limit_headers())

    with make_client(handler, clock) as client:
        client.search_repositories("q")
    assert sent_at[1] - sent_at[0] >= 42


def test_secondary_limit_without_retry_after_waits_a_minute_then_longer() -> None:
    clock = FakeClock()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now)
        if len(sent_at) <= 2:
            return httpx.Response(429, json={"message": "secondary rate limit"},
                                  headers=limit_headers())
        return httpx.Response(200, json=search_body([1]), headers=limit_headers())

    with make_client(handler, clock) as client:
        client.search_repositories("q")
    assert sent_at[1] - sent_at[0] >= 60
    assert sent_at[2] - sent_at[1] >= 120


def test_primary_limit_waits_for_the_reset() -> None:
    clock = FakeClock()
    reset = clock.now + 300
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now)
        if len(sent_at) == 1:
            return httpx.Response(403, json={"message": "API rate limit exceeded"},
                                  headers=limit_headers(remaining=0, reset=reset))
        return httpx.Response(200, json=search_body([1]), headers=limit_headers())

    with make_client(handler, clock) as client:
        client.search_repositories("q")
    assert sent_at[1] >= reset


def test_no_request_while_the_bucket_is_known_empty() -> None:
    clock = FakeClock()
    reset = clock.now + 60
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.now)
        left = max(0, 1 - len(sent_at)) if clock.now < reset else 29
        return httpx.Response(200, json=search_body([1]), headers=limit_headers(left, reset))

    with make_client(handler, clock) as client:
        client.search_repositories("q", 1)
        client.search_repositories("q", 2)
    assert sent_at[1] >= reset


def test_server_errors_and_timeouts_are_retried_with_a_bound() -> None:
    clock = FakeClock()
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if calls["n"] == 2:
            return httpx.Response(502, json={"message": "Server Error"}, headers=limit_headers())
        return httpx.Response(200, json=search_body([1]), headers=limit_headers())

    with make_client(flaky, clock) as client:
        assert client.search_repositories("q").total_count == 1
    assert calls["n"] == 3 and len(clock.sleeps) >= 2

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"message": "Unavailable"}, headers=limit_headers())

    with make_client(broken, FakeClock()) as client, pytest.raises(GitHubError) as info:
        client.search_repositories("q")
    assert "4 times" in info.value.message


def test_incomplete_pages_are_fetched_again() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        body = search_body([1, 3], 3, True) if calls["n"] == 1 else search_body([1, 2, 3])
        return httpx.Response(200, json=body, headers=limit_headers())

    with make_client(handler, FakeClock()) as client:
        page = client.search_repositories("q")
    assert calls["n"] == 2
    assert [item["id"] for item in page.items] == [1, 2, 3]
    assert not page.incomplete


def test_validation_error_is_not_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"message": "Validation Failed"}, headers=limit_headers())

    with make_client(handler, FakeClock()) as client, pytest.raises(GitHubError) as info:
        client.search_repositories("bad:qualifier")
    assert "422" in info.value.message


def test_readme_revalidation_with_etag() -> None:
    text = "# Title\n\nSome words.\n"
    encoded = base64.b64encode(text.encode()).decode()

    def handler(request: httpx.Request) -> httpx.Response:
        core = limit_headers(resource="core")
        if request.headers.get("if-none-match") == 'W/"abc"':
            return httpx.Response(304, headers={**core, "etag": 'W/"abc"'})
        return httpx.Response(200, json={"content": encoded, "encoding": "base64"},
                              headers={**core, "etag": 'W/"abc"'})

    with make_client(handler, FakeClock()) as client:
        fresh = client.get_readme("o/r")
        again = client.get_readme("o/r", fresh.etag)
    assert fresh.changed and fresh.text == text and fresh.etag == 'W/"abc"'
    assert not again.changed
    assert client.stats.not_modified == 1


def test_renamed_repository_is_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        core = limit_headers(resource="core")
        if request.url.path == "/repos/old/name":
            return httpx.Response(301, headers={**core, "location": "/repositories/7"})
        return httpx.Response(200, json={"id": 7, "full_name": "new/name"}, headers=core)

    with make_client(handler, FakeClock()) as client:
        repo = client.get_repository("old/name")
        assert repo is not None and repo["full_name"] == "new/name"
        assert client.stats.requests["core"] == 2


def test_token_never_appears_in_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "1":
            return httpx.Response(502, json={"message": "bad"}, headers=limit_headers())
        return httpx.Response(200, json=search_body([1]), headers=limit_headers())

    caplog.set_level(logging.DEBUG)
    with make_client(handler, FakeClock()) as client:
        client.search_repositories("q", 2)
        with pytest.raises(GitHubError):
            client.search_repositories("q", 1)
    assert caplog.records
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_missing_or_forbidden_star_history_degrades_to_unknown(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/repos/o/r/stargazers/history"
        body = {"message": "Must have push access to view stargazers"}
        return httpx.Response(status, json=body, headers=limit_headers(4000, resource="core"))

    client = make_client(handler, FakeClock())
    assert client.star_history_page("o/r", 1) is None


def test_star_history_finds_the_week_a_repository_crossed_the_threshold() -> None:
    from collector.details import crossing_date

    weeks = [  # newest first: 900 stars now
        {"week": "2026-11-22", "stars": 150, "days": [0, 50, 0, 0, 100, 0, 0]},
        {"week": "2026-11-15", "stars": 300, "days": [0, 0, 0, 200, 100, 0, 0]},
        {"week": "2026-11-08", "stars": 450, "days": [450, 0, 0, 0, 0, 0, 0]},
    ]
    crossed, settled = crossing_date(weeks, current_stars=900, threshold=500)
    assert settled
    assert crossed is not None and crossed.isoformat() == "2026-11-18"
