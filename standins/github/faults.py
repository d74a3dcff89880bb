"""Fault injection for the replay server: deterministic (seeded), off by default.

Each counted request draws from one seeded random stream, so a serial client sees the same faults
in the same places on every run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

SERVER_ERROR = "server_error"
SECONDARY_LIMIT = "secondary_limit"
INCOMPLETE = "incomplete_results"
LATENCY = "latency"
EXHAUSTED = "bucket_exhausted"


@dataclass(frozen=True)
class FaultConfig:
    """What can go wrong, and how often. All probabilities are per counted request."""

    seed: int = 0
    error_rate: float = 0.0
    """Probability of a 502 or 503 answer."""
    secondary_limit_rate: float = 0.0
    """Probability of a secondary rate limit (403/429 with retry-after)."""
    secondary_limit_status: int = 403
    """403 or 429, the two statuses GitHub uses for secondary limits."""
    retry_after: int = 60
    """Seconds in the retry-after header; a request before they elapse is a violation."""
    incomplete_rate: float = 0.0
    """Probability that a search page says incomplete_results: true and misses some items."""
    incomplete_drop: float = 0.2
    """Share of a page's items left out of an incomplete page (at least one)."""
    latency: float = 0.0
    """Seconds added to every answer."""
    latency_jitter: float = 0.0
    """Extra random seconds, uniform in [0, latency_jitter]."""
    renames: dict[str, str] = field(default_factory=dict)
    """old full_name -> new full_name: search shows the new name, the old one answers 301."""
    exhaust_rate: float = 0.0
    """Probability that a counted request empties its bucket until the window resets."""
    exhausted_buckets: frozenset[str] = frozenset()
    """Buckets ("core", "search") that start empty: the client must wait for the first reset."""

    @property
    def active(self) -> bool:
        return any(
            (
                self.error_rate,
                self.secondary_limit_rate,
                self.incomplete_rate,
                self.latency,
                self.latency_jitter,
                self.exhaust_rate,
            )
        )


@dataclass(frozen=True)
class Draw:
    """The faults chosen for one request."""

    delay: float = 0.0
    server_error: int | None = None
    secondary_limit: bool = False
    incomplete: bool = False
    exhaust: bool = False


class FaultInjector:
    """Draws faults for each request from one seeded random stream (thread-safe)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._random = random.Random(self.config.seed)
        self._lock = threading.Lock()

    def draw(self, search: bool) -> Draw:
        config = self.config
        if not config.active:
            return Draw()
        with self._lock:
            roll = self._random.random
            jitter = roll() * config.latency_jitter if config.latency_jitter else 0.0
            delay = config.latency + jitter
            secondary = roll() < config.secondary_limit_rate
            error = roll() < config.error_rate
            status = 502 if roll() < 0.5 else 503
            incomplete = search and roll() < config.incomplete_rate
            exhaust = roll() < config.exhaust_rate
        return Draw(
            delay=delay,
            server_error=status if error and not secondary else None,
            secondary_limit=secondary,
            incomplete=incomplete,
            exhaust=exhaust,
        )

    def drop_items(self, count: int) -> set[int]:
        """Positions of the items an incomplete page leaves out."""
        if count == 0:
            return set()
        missing = max(1, round(count * self.config.incomplete_drop))
        with self._lock:
            return set(self._random.sample(range(count), min(missing, count)))
