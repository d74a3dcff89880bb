"""What to do with a failed request: GitHub's documented rules, as small pure functions.

- Primary limit (403/429 and ``x-ratelimit-remaining: 0``): wait until ``x-ratelimit-reset``.
- Secondary limit (403/429 with ``retry-after``, or a message that says so): wait ``retry-after``
  seconds; without it wait at least a minute, doubling on each repeat.
- 5xx answers and timeouts: jittered exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
SECONDARY_MIN_WAIT = 60.0

PRIMARY = "primary"
SECONDARY = "secondary"


@dataclass(frozen=True)
class LimitHit:
    """A rate-limit answer: which kind, and the wait it asks for (None: until the reset)."""

    kind: str
    retry_after: float | None = None
    reset: float | None = None


def _message(body: Any) -> str:
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def classify_limit(status: int, headers: Mapping[str, str], body: Any) -> LimitHit | None:
    """The rate limit a 403/429 answer reports, or None when it is an ordinary error."""
    if status not in (403, 429):
        return None
    retry_after = headers.get("retry-after")
    reset = headers.get("x-ratelimit-reset")
    reset_at = float(reset) if reset and reset.isdigit() else None
    message = _message(body).lower()
    if retry_after is not None:
        try:
            seconds = max(0.0, float(retry_after))
        except ValueError:
            seconds = SECONDARY_MIN_WAIT
        return LimitHit(SECONDARY, retry_after=seconds, reset=reset_at)
    if headers.get("x-ratelimit-remaining") == "0":
        return LimitHit(PRIMARY, reset=reset_at)
    if "secondary rate limit" in message or "abuse" in message:
        return LimitHit(SECONDARY, reset=reset_at)
    if status == 429 or "rate limit" in message:
        return LimitHit(SECONDARY, reset=reset_at)
    return None


def secondary_wait(hit: LimitHit, repeats: int) -> float:
    """Seconds to hold all requests after the ``repeats``-th secondary limit in a row (1-based)."""
    if hit.retry_after is not None:
        return hit.retry_after
    return SECONDARY_MIN_WAIT * 2 ** max(0, repeats - 1)


def backoff(attempt: int, rng: random.Random, base: float = 1.0, cap: float = 60.0) -> float:
    """Full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
    return rng.uniform(base / 2, min(cap, base * 2 ** (attempt - 1)))
