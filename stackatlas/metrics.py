"""The Prometheus metrics of stackatlas, in the kernel so that every stage may count.

Stages call the small functions below; the API exposes the registry at ``/metrics``
(``api.metrics``). Label values are bounded sets (bucket, method, outcome, route template),
never raw paths, repository names or anything a client sends.
"""

from __future__ import annotations

import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

registry: CollectorRegistry = REGISTRY

HTTP_REQUESTS = Counter(
    "stackatlas_http_requests",
    "API requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "stackatlas_http_request_duration_seconds",
    "API request latency, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GITHUB_REQUESTS = Counter(
    "stackatlas_github_requests",
    "Requests sent to GitHub (or the replay server), by rate-limit bucket and answer.",
    ["bucket", "answer"],
)
RATE_LIMIT_WAITS = Counter(
    "stackatlas_rate_limit_waits",
    "Waits imposed by GitHub's rate limits and retries, by bucket and kind.",
    ["bucket", "kind"],
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "stackatlas_rate_limit_wait_seconds",
    "Seconds spent waiting for GitHub's rate limits and retries, by bucket and kind.",
    ["bucket", "kind"],
)
LLM_REQUESTS = Counter(
    "stackatlas_llm_requests", "Chat requests sent to the LLM endpoint, by outcome.", ["outcome"]
)
LLM_TOKENS = Counter(
    "stackatlas_llm_tokens", "Tokens the LLM endpoint counted (or that were estimated).", ["kind"]
)
LABELS = Counter(
    "stackatlas_labels", "Labels written to the warehouse, by method.", ["method"]
)
JOB_DURATION = Histogram(
    "stackatlas_job_duration_seconds",
    "Duration of pipeline jobs (crawl, classify, release, …), by job and outcome.",
    ["job", "outcome"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200),
)
JOB_LAST_FINISHED = Gauge(
    "stackatlas_job_last_finished_timestamp_seconds",
    "When each job last finished (Unix time), by job and outcome.",
    ["job", "outcome"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def count_github_request(bucket: str, status: int | None) -> None:
    """One request of ``bucket``; ``status`` None when no answer came (timeout, network)."""
    if status is None:
        answer = "error"
    else:
        answer = "not_modified" if status == 304 else f"{status // 100}xx"
    GITHUB_REQUESTS.labels(bucket, answer).inc()


def wait_kind(reason: str) -> str:
    """The bounded kind of a limiter wait reason ('core pacing' → 'pacing')."""
    for kind in ("pacing", "reset", "secondary"):
        if kind in reason:
            return kind
    return "retry"


def count_wait(bucket: str, reason: str, seconds: float) -> None:
    kind = wait_kind(reason)
    RATE_LIMIT_WAITS.labels(bucket, kind).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(bucket, kind).inc(max(0.0, seconds))


def count_llm_request(outcome: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
    LLM_REQUESTS.labels(outcome).inc()
    if prompt_tokens:
        LLM_TOKENS.labels("prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels("completion").inc(completion_tokens)


def count_labels(method: str, count: int = 1) -> None:
    if count:
        LABELS.labels(method).inc(count)


def observe_job(name: str, seconds: float, outcome: str) -> None:
    """Record one finished job run (for the scheduler): ``outcome`` e.g. succeeded/failed."""
    JOB_DURATION.labels(name, outcome).observe(max(0.0, seconds))
    JOB_LAST_FINISHED.labels(name, outcome).set(time.time())


def sample_value(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample (0 when absent); for tests and the CLI."""
    value = registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value
