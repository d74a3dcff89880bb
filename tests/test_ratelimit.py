"""Pacing and limit waits of collector.ratelimit, and the retry rules of collector.retry."""

from __future__ import annotations

import random

import pytest

from collector.ratelimit import CORE, SEARCH, RateLimiter, bucket_of
from collector.retry import PRIMARY, SECONDARY, backoff, classify_limit, secondary_wait
from stackatlas.errors import RateLimitError


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(clock: FakeClock, **kwargs: object) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def headers(remaining: int, reset: float, limit: int = 30, resource: str = "search") -> dict:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
        "x-ratelimit-resource": resource,
    }


def test_bucket_of_paths() -> None:
    assert bucket_of("/search/repositories") == SEARCH
    assert bucket_of("/repos/a/b/readme") == CORE


def test_first_request_goes_without_waiting() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.acquire(SEARCH)
    assert clock.sleeps == []


def test_empty_bucket_waits_for_reset_plus_margin() -> None:
    clock = FakeClock()
    rl = limiter(clock, reset_margin=1.0)
    rl.update(SEARCH, headers(0, clock.now + 40))
    rl.acquire(SEARCH)
    assert sum(clock.sleeps) == pytest.approx(41.0)
    assert rl.stats.waits == 1


def test_pacing_spreads_the_last_quarter_over_the_window() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.acquire(SEARCH)
    rl.update(SEARCH, headers(6, clock.now + 48))
    rl.acquire(SEARCH)
    assert sum(clock.sleeps) == pytest.approx(8.0)


def test_a_well_stocked_bucket_is_not_slowed_down() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.acquire(SEARCH)
    rl.update(SEARCH, headers(20, clock.now + 60))
    rl.acquire(SEARCH)
    assert clock.sleeps == []


def test_core_requests_stay_under_the_secondary_limit_of_900_a_minute() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.update(CORE, headers(4000, clock.now + 3000, limit=5000, resource="core"))
    for _ in range(901):
        rl.acquire(CORE)
    assert clock.now - 1_000_000.0 == pytest.approx(60.0)


def test_local_count_stops_sending_before_the_headers_say_so() -> None:
    clock = FakeClock()
    rl = limiter(clock, pace=False)
    rl.update(SEARCH, headers(2, clock.now + 60))
    rl.acquire(SEARCH)
    rl.acquire(SEARCH)
    assert clock.sleeps == []
    rl.acquire(SEARCH)  # the bucket is known to be empty now
    assert sum(clock.sleeps) == pytest.approx(61.0)


def test_buckets_are_independent() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.update(SEARCH, headers(0, clock.now + 50))
    rl.acquire(CORE)
    assert clock.sleeps == []


def test_retry_after_blocks_every_bucket() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    rl.block(30)
    rl.acquire(CORE)
    assert sum(clock.sleeps) == pytest.approx(30.0)


def test_too_long_wait_raises_instead_of_sleeping() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_wait=10)
    rl.update(CORE, headers(0, clock.now + 3000, resource="core"))
    with pytest.raises(RateLimitError) as info:
        rl.acquire(CORE)
    assert "--resume" in info.value.hint
    assert clock.sleeps == []


def test_classify_primary_and_secondary_limits() -> None:
    primary = classify_limit(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "99"}, {})
    assert primary is not None and primary.kind == PRIMARY and primary.reset == 99
    secondary = classify_limit(429, {"retry-after": "17", "x-ratelimit-remaining": "5"}, {})
    assert secondary is not None and secondary.kind == SECONDARY and secondary.retry_after == 17
    message = {"message": "You have exceeded a secondary rate limit."}
    bare = classify_limit(403, {"x-ratelimit-remaining": "12"}, message)
    assert bare is not None and bare.kind == SECONDARY and bare.retry_after is None
    assert classify_limit(403, {"x-ratelimit-remaining": "12"}, {"message": "Forbidden"}) is None
    assert classify_limit(500, {}, None) is None


def test_secondary_wait_is_at_least_a_minute_then_doubles() -> None:
    bare = classify_limit(403, {}, {"message": "secondary rate limit"})
    assert bare is not None
    assert [secondary_wait(bare, n) for n in (1, 2, 3)] == [60, 120, 240]
    told = classify_limit(403, {"retry-after": "5"}, {})
    assert told is not None and secondary_wait(told, 3) == 5


def test_backoff_is_jittered_and_bounded() -> None:
    rng = random.Random(1)
    waits = [backoff(attempt, rng, base=1.0, cap=8.0) for attempt in range(1, 10)]
    assert all(0.5 <= w <= 8.0 for w in waits)
    assert len(set(waits)) == len(waits)
