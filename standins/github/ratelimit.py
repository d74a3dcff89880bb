"""GitHub's primary rate limits, per client and bucket, with fixed windows.

A window opens at a client's first request to a bucket and lasts ``window`` seconds; ``reset`` is
its end in epoch seconds (rounded up, so a client that sleeps until ``reset`` never comes early).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CORE = "core"
SEARCH = "search"


@dataclass(frozen=True)
class RateLimitConfig:
    """Limits and window lengths of the two buckets (GitHub's defaults)."""

    search_limit: int = 30
    search_limit_anonymous: int = 10
    search_window: float = 60.0
    core_limit: int = 5000
    core_limit_anonymous: int = 60
    core_window: float = 3600.0

    def limit(self, bucket: str, authenticated: bool) -> int:
        if bucket == SEARCH:
            return self.search_limit if authenticated else self.search_limit_anonymous
        return self.core_limit if authenticated else self.core_limit_anonymous

    def window(self, bucket: str) -> float:
        return self.search_window if bucket == SEARCH else self.core_window


@dataclass
class BucketState:
    """One client's use of one bucket in the current window."""

    limit: int
    used: int = 0
    window_start: float = 0.0
    window_end: float = 0.0
    drained: bool = False  # forced empty until the window ends

    @property
    def remaining(self) -> int:
        return 0 if self.drained else max(0, self.limit - self.used)

    @property
    def reset(self) -> int:
        return math.ceil(self.window_end)

    def headers(self, bucket: str) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.limit - self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": bucket,
        }

    def as_json(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "used": self.limit - self.remaining,
            "remaining": self.remaining,
            "reset": self.reset,
        }


class RateLimiter:
    """Counts requests per (client, bucket); thread-safe."""

    def __init__(
        self,
        config: RateLimitConfig | None = None,
        clock: Callable[[], float] | None = None,
        start_empty: frozenset[str] = frozenset(),
    ) -> None:
        self.config = config or RateLimitConfig()
        self.clock = clock or time.time
        self.start_empty = start_empty
        self._buckets: dict[tuple[str, str], BucketState] = {}
        self._lock = threading.Lock()

    def _current(self, client: str, bucket: str, authenticated: bool) -> BucketState:
        """The bucket of the window containing now, opening a new window when the last ended."""
        now = self.clock()
        key = (client, bucket)
        state = self._buckets.get(key)
        if state is None or now >= state.window_end:
            first = state is None
            state = BucketState(
                limit=self.config.limit(bucket, authenticated),
                window_start=now,
                window_end=now + self.config.window(bucket),
                drained=first and bucket in self.start_empty,
            )
            self._buckets[key] = state
        return state

    def peek(self, client: str, bucket: str, authenticated: bool) -> BucketState:
        with self._lock:
            state = self._current(client, bucket, authenticated)
            return BucketState(**vars(state))

    def take(self, client: str, bucket: str, authenticated: bool) -> tuple[bool, BucketState]:
        """Use one request; False (and nothing used) when the bucket is empty."""
        with self._lock:
            state = self._current(client, bucket, authenticated)
            allowed = state.remaining > 0
            if allowed:
                state.used += 1
            return allowed, BucketState(**vars(state))

    def refund(self, client: str, bucket: str) -> BucketState | None:
        """Give back one request (a 304 answer does not count)."""
        with self._lock:
            state = self._buckets.get((client, bucket))
            if state is None:
                return None
            state.used = max(0, state.used - 1)
            return BucketState(**vars(state))

    def drain(self, client: str, bucket: str) -> None:
        """Empty the bucket until its window resets (forced exhaustion)."""
        with self._lock:
            state = self._buckets.get((client, bucket))
            if state is not None:
                state.drained = True
