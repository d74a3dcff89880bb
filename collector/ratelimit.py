"""Per-bucket pacing from GitHub's ``x-ratelimit-*`` headers, and the waits that limits impose.

GitHub counts requests in buckets (``search``: 30 a minute, ``core``: 5,000 an hour with a token).
Each answer says how many requests are left in the bucket and when it resets. The limiter spreads
the last quarter of a bucket evenly over the time left (and never sends core requests faster than
GitHub's secondary limit of 900 a minute), never sends into a bucket it knows is empty, and holds
every request while a secondary limit's ``retry-after`` is pending.

Time is injected (``clock`` and ``sleep``) so that tests never really wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from stackatlas import metrics
from stackatlas.errors import RateLimitError

log = logging.getLogger(__name__)

SEARCH = "search"
CORE = "core"
MAX_PACING = 10.0
"""Longest gap pacing puts between two requests (a far-off reset means clock skew, not a plan)."""
MIN_INTERVAL = {SEARCH: 0.0, CORE: 60 / 900}
"""Shortest gap per bucket: GitHub's secondary limit allows 900 REST points (GETs) a minute."""
RESERVE_SHARE = 0.25
"""Requests go out freely until a bucket is down to this share; the rest is spread to the reset."""

Clock = Callable[[], float]
Sleep = Callable[[float], None]
WaitListener = Callable[[str, float, str], None]
"""Called with (bucket, seconds, reason) before every wait; for progress displays."""


def bucket_of(path: str) -> str:
    """The bucket GitHub charges a request path to."""
    return SEARCH if path.lstrip("/").startswith("search/") else CORE


@dataclass
class BucketState:
    """What the last answer said about one bucket (None: not known yet)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    last_sent: float | None = None
    sent_before: float | None = None
    """``last_sent`` before the latest request, so that a free answer (304) can be given back."""


@dataclass
class WaitStats:
    waits: int = 0
    seconds: float = 0.0
    by_reason: dict[str, float] = field(default_factory=dict)

    def add(self, reason: str, seconds: float) -> None:
        self.waits += 1
        self.seconds += seconds
        self.by_reason[reason] = self.by_reason.get(reason, 0.0) + seconds


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class RateLimiter:
    """Decides how long to wait before the next request of a bucket, and waits.

    ``reset_margin`` seconds are added to every reset time to absorb clock skew with the server.
    ``max_wait`` bounds one wait: a longer one raises RateLimitError instead of sleeping.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        max_wait: float = 3900.0,
        reset_margin: float = 1.0,
        pace: bool = True,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self.reset_margin = reset_margin
        self.pace = pace
        self.buckets: dict[str, BucketState] = {SEARCH: BucketState(), CORE: BucketState()}
        self.blocked_until = 0.0
        self.stats = WaitStats()
        self.listeners: list[WaitListener] = []

    # ------------------------------------------------------------------ reading answers

    def update(self, bucket: str, headers: Mapping[str, str]) -> None:
        """Take in the rate-limit headers of an answer."""
        name = headers.get("x-ratelimit-resource") or bucket
        state = self.buckets.setdefault(name, BucketState())
        remaining = _header_int(headers, "x-ratelimit-remaining")
        reset = _header_int(headers, "x-ratelimit-reset")
        limit = _header_int(headers, "x-ratelimit-limit")
        if remaining is not None:
            state.remaining = remaining
        if reset is not None:
            state.reset = float(reset)
        if limit is not None:
            state.limit = limit

    def exhausted(self, bucket: str, reset: float | None) -> None:
        """The bucket is empty (a primary limit answer): nothing goes out before its reset."""
        state = self.buckets.setdefault(bucket, BucketState())
        state.remaining = 0
        if reset is not None:
            state.reset = reset

    def block(self, seconds: float) -> None:
        """A secondary limit: no request of any bucket for ``seconds``."""
        self.blocked_until = max(self.blocked_until, self.clock() + seconds)

    # ------------------------------------------------------------------ deciding and waiting

    def delay(self, bucket: str) -> tuple[float, str]:
        """Seconds to wait before the next request of ``bucket``, and why (0 means go)."""
        now = self.clock()
        waits: list[tuple[float, str]] = [(self.blocked_until - now, "secondary limit")]
        state = self.buckets.setdefault(bucket, BucketState())
        if state.reset is not None and now >= state.reset + self.reset_margin:
            # The window has reset: the next answer tells us the new budget.
            state.remaining, state.reset = None, None
        if state.remaining is not None and state.reset is not None:
            until_reset = state.reset + self.reset_margin - now
            if state.remaining <= 0:
                waits.append((until_reset, f"{bucket} limit reset"))
            elif self.pace and state.last_sent is not None:
                interval = self._interval(bucket, state, now)
                waits.append((state.last_sent + interval - now, f"{bucket} pacing"))
        seconds, reason = max(waits)
        return max(0.0, seconds), reason

    def _interval(self, bucket: str, state: BucketState, now: float) -> float:
        """Gap before the next request: the floor while the bucket is well stocked, else an even
        spread of what is left over the time left."""
        assert state.remaining is not None and state.reset is not None
        floor = MIN_INTERVAL.get(bucket, 0.0)
        reserve = max(1, int((state.limit or 0) * RESERVE_SHARE))
        if state.remaining > reserve:
            return floor
        spread = max(0.0, state.reset - now) / state.remaining
        return max(floor, min(MAX_PACING, spread))

    def acquire(self, bucket: str) -> None:
        """Wait until a request of ``bucket`` may go out, then count it as sent."""
        while True:
            seconds, reason = self.delay(bucket)
            if seconds <= 0:
                break
            if seconds > self.max_wait:
                raise RateLimitError(
                    f"GitHub asks to wait {seconds:.0f} s ({reason}), longer than the allowed "
                    f"{self.max_wait:.0f} s",
                    "resume later with `stackatlas crawl --resume`, or raise STACKATLAS_MAX_WAIT",
                )
            self.wait(seconds, reason, bucket)
        state = self.buckets[bucket]
        state.sent_before, state.last_sent = state.last_sent, self.clock()
        if state.remaining is not None:
            state.remaining -= 1

    def refund(self, bucket: str, headers: Mapping[str, str]) -> None:
        """The latest request of ``bucket`` was free (a 304): it counts neither against the
        budget nor for pacing. The answer's own ``x-ratelimit-remaining``, if any, stands."""
        state = self.buckets.setdefault(bucket, BucketState())
        state.last_sent = state.sent_before
        if state.remaining is not None and "x-ratelimit-remaining" not in headers:
            state.remaining += 1

    def wait(self, seconds: float, reason: str, bucket: str = CORE) -> None:
        if seconds > 1:
            log.info("waiting %.1f s (%s)", seconds, reason)
        for listener in self.listeners:
            listener(bucket, seconds, reason)
        self.stats.add(reason, seconds)
        metrics.count_wait(bucket, reason, seconds)
        self.sleep(seconds)

    def remaining(self) -> dict[str, int | None]:
        return {name: state.remaining for name, state in self.buckets.items()}
