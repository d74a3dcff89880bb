"""A polite, serial httpx client for the few GitHub REST endpoints the collector needs.

The token goes into the ``Authorization`` header only; it is never logged, and httpx drops the
header when a redirect leaves the API's origin. Every request waits for the rate limiter first,
so nothing is sent while a bucket is known to be empty or a ``retry-after`` is pending.
"""

from __future__ import annotations

import base64
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from collector.ratelimit import CORE, SEARCH, RateLimiter, bucket_of
from collector.retry import (
    PRIMARY,
    RETRYABLE_STATUSES,
    backoff,
    classify_limit,
    secondary_wait,
)
from stackatlas import metrics
from stackatlas.errors import ConfigError, GitHubError, RateLimitError

log = logging.getLogger(__name__)

USER_AGENT = "stackatlas-collector/0.1 (+https://github.com/stackatlas)"
API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_LIMIT_HITS = 8


@dataclass
class SearchPage:
    total_count: int
    items: list[dict[str, Any]]
    incomplete: bool = False


@dataclass
class Readme:
    """A README answer: ``changed`` False for a 304, ``text`` None when there is no README."""

    changed: bool
    text: str | None = None
    etag: str | None = None


@dataclass
class ClientStats:
    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    not_modified: int = 0


class GitHubClient:
    """Serial requests with pacing, limit handling and bounded retries; one instance per crawl."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 6,
        limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
        backoff_base: float = 1.0,
    ) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            transport=transport,
        )
        self.limiter = limiter or RateLimiter()
        self.max_retries = max_retries
        self.rng = rng or random.Random()
        self.backoff_base = backoff_base
        self.stats = ClientStats()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the request loop

    def request(
        self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """GET ``path``; retries limits, 5xx and timeouts. Returns any other answer as it is."""
        bucket = bucket_of(path)
        failures = 0
        limit_hits = 0
        while True:
            self.limiter.acquire(bucket)
            self.stats.requests[bucket] += 1
            try:
                response = self.http.get(path, params=params, headers=headers)
            except httpx.LocalProtocolError:
                # h11 refuses a header value (a token with a line break): the message quotes
                # the value, so it is neither logged nor chained, and retrying cannot help.
                raise _bad_header_error() from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                metrics.count_github_request(bucket, None)
                failures = self._count_failure(failures, path, type(exc).__name__)
                continue
            metrics.count_github_request(bucket, response.status_code)
            self._note_limits(bucket, response)
            self.stats.requests[bucket] += len(response.history)
            if response.status_code == 304:
                # A 304 to a conditional request is free: it must not slow the next request.
                self.stats.not_modified += 1
                self.limiter.refund(bucket, response.headers)
            hit = classify_limit(response.status_code, response.headers, _json_or_none(response))
            if hit is not None:
                limit_hits += 1
                self._handle_limit(bucket, hit, limit_hits, path)
                continue
            if response.status_code in RETRYABLE_STATUSES:
                failures = self._count_failure(failures, path, f"HTTP {response.status_code}")
                continue
            return response

    def _note_limits(self, bucket: str, response: httpx.Response) -> None:
        for hop in [*response.history, response]:
            self.limiter.update(bucket, hop.headers)

    def _count_failure(self, failures: int, path: str, what: str) -> int:
        failures += 1
        self.stats.retries["error"] += 1
        if failures > self.max_retries:
            raise GitHubError(
                f"GitHub request {path} failed {failures} times ({what})",
                "GitHub may be having trouble: try again later with `stackatlas crawl --resume`",
            )
        seconds = backoff(failures, self.rng, base=self.backoff_base)
        log.warning("%s on %s; retry %d in %.1f s", what, path, failures, seconds)
        self.limiter.wait(seconds, f"retry after {what}")
        return failures

    def _handle_limit(self, bucket: str, hit: Any, hits: int, path: str) -> None:
        self.stats.retries["rate_limit"] += 1
        if hits > MAX_LIMIT_HITS:
            raise RateLimitError(
                f"GitHub kept rate-limiting {path} ({hits} times in a row)",
                "wait a while, then `stackatlas crawl --resume`",
            )
        if hit.kind == PRIMARY:
            log.info("%s bucket exhausted; waiting for its reset", bucket)
            self.limiter.exhausted(bucket, hit.reset)
            return
        seconds = secondary_wait(hit, hits)
        log.warning("secondary rate limit on %s; holding all requests %.0f s", path, seconds)
        self.limiter.block(seconds)

    # ------------------------------------------------------------------ endpoints

    def search_repositories(
        self, query: str, page: int = 1, *, per_page: int = PER_PAGE, sort: str = "stars"
    ) -> SearchPage:
        """One search page; pages with ``incomplete_results: true`` are fetched again."""
        params = {"q": query, "per_page": per_page, "page": page, "sort": sort, "order": "desc"}
        merged: dict[int, dict[str, Any]] = {}
        attempts = 0
        while True:
            response = self.request("/search/repositories", params)
            body = _checked_json(response, "search")
            items = list(body.get("items") or [])
            for item in items:
                merged[item["id"]] = item
            incomplete = bool(body.get("incomplete_results"))
            if not incomplete:
                return SearchPage(int(body.get("total_count", 0)), items)
            attempts += 1
            self.stats.retries["incomplete"] += 1
            if attempts > self.max_retries:
                log.warning("search page %d of %r stayed incomplete; keeping what came",
                            page, query)
                return SearchPage(int(body.get("total_count", 0)), list(merged.values()), True)
            log.info("incomplete search page %d of %r; fetching it again", page, query)

    def get_repository(self, full_name: str) -> dict[str, Any] | None:
        """The repository (renames followed), or None when it is gone (404, 410, 451)."""
        response = self.request(f"/repos/{full_name}")
        if response.status_code in (404, 410, 451):
            return None
        return _checked_json(response, f"repository {full_name}")

    def get_readme(self, full_name: str, etag: str | None = None) -> Readme:
        """The README text, revalidated with ``If-None-Match`` (a 304 costs no rate limit)."""
        headers = {"If-None-Match": etag} if etag else None
        response = self.request(f"/repos/{full_name}/readme", headers=headers)
        if response.status_code == 304:
            return Readme(changed=False, etag=etag)
        if response.status_code in (404, 410, 451):
            return Readme(changed=True)
        body = _checked_json(response, f"README of {full_name}")
        return Readme(True, decode_content(body), response.headers.get("etag"))

    def star_history_page(self, full_name: str, page: int) -> list[dict[str, Any]] | None:
        """One page of weekly star counts (newest first); None when the endpoint is unavailable."""
        response = self.request(
            f"/repos/{full_name}/stargazers/history", {"per_page": PER_PAGE, "page": page}
        )
        if response.status_code in (403, 404, 410, 451, 501):
            return None
        body = _checked_json(response, f"star history of {full_name}")
        return body if isinstance(body, list) else None

    def requests_by_bucket(self) -> dict[str, int]:
        return {SEARCH: self.stats.requests[SEARCH], CORE: self.stats.requests[CORE]}


def _bad_header_error() -> ConfigError:
    return ConfigError(
        "a request header holds characters HTTP cannot carry (often a line break or space "
        "pasted into GITHUB_TOKEN)",
        "set GITHUB_TOKEN again as one line without spaces",
    )


def decode_content(body: dict[str, Any]) -> str:
    content = body.get("content") or ""
    if body.get("encoding") == "base64":
        return base64.b64decode(content).decode("utf-8", errors="replace")
    return str(content)


def _json_or_none(response: httpx.Response) -> Any:
    if response.status_code < 400:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _checked_json(response: httpx.Response, what: str) -> Any:
    status = response.status_code
    if status == 401:
        raise GitHubError(
            f"GitHub refused the token (401) while fetching {what}",
            "check GITHUB_TOKEN (it may be expired or revoked)",
        )
    if status == 422:
        message = (_json_or_none(response) or {}).get("message", "Validation Failed")
        raise GitHubError(
            f"GitHub rejected the request for {what} (422: {message})",
            "check the search queries file (--queries) for invalid qualifiers",
        )
    if status >= 400:
        raise GitHubError(
            f"GitHub answered {status} for {what}", "check --api-url, then retry with --resume"
        )
    try:
        return response.json()
    except ValueError as exc:
        raise GitHubError(
            f"GitHub sent something that is not JSON for {what}", "check --api-url"
        ) from exc

