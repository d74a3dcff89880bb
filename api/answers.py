"""Serialized answers of published releases, kept in process.

A published release never changes, so a figure answer that is a pure function of the release id,
the normalized query parameters and the format can be computed once and its bytes served again.
``AnswerCache`` is a bounded LRU (entries and bytes) keyed by (route, release id, pinned,
format, normalized parameters); a new release has a new id, so nothing is ever invalidated by
hand. The "latest" pointer is resolved per request (one small query) before the key is built.

Live figures (no release published yet) are never cached: a pipeline run would change them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

JSON_MEDIA_TYPE = "application/json"
MAX_ENTRIES = 512
MAX_BYTES = 128 * 1024 * 1024
# Headers of a built answer that describe its body and are recomputed when it is sent again.
_BODY_HEADERS = frozenset({"content-length", "content-type"})


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        return Response(self.body, media_type=self.media_type, headers=dict(self.headers))


class AnswerCache:
    """A thread-safe LRU of serialized answers, bounded by entry count and total body size."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self._entries: OrderedDict[Hashable, CachedAnswer] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> CachedAnswer | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return answer

    def put(self, key: Hashable, answer: CachedAnswer) -> None:
        if len(answer.body) > self._max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous.body)
            self._entries[key] = answer
            self._bytes += len(answer.body)
            while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)


def serialized(answer: BaseModel | Response, headers: Mapping[str, str]) -> CachedAnswer:
    """A route's answer as bytes: a model as FastAPI would write it, or a built response."""
    if isinstance(answer, Response):
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _BODY_HEADERS}
        media_type = answer.media_type or answer.headers.get("content-type", JSON_MEDIA_TYPE)
        merged = {**kept, **{k.lower(): v for k, v in headers.items()}}
        return CachedAnswer(bytes(answer.body), media_type, tuple(merged.items()))
    body = answer.model_dump_json(by_alias=True).encode()
    return CachedAnswer(body, JSON_MEDIA_TYPE, tuple(headers.items()))


def answer_cache(request: Request) -> AnswerCache:
    cache: AnswerCache = request.app.state.answer_cache
    return cache


def release_answer(
    request: Request,
    *,
    release: str | None,
    pinned: bool,
    fmt: str,
    params: Mapping[str, object],
    headers: Mapping[str, str],
    build: Callable[[], BaseModel | Response],
) -> Response:
    """The answer ``build`` gives, served from the cache when ``release`` is a published one.

    ``params`` are the route's parsed, normalized parameters (everything the answer depends on
    besides the release and the format); ``headers`` are added to a JSON answer.
    """
    if release is None:
        return serialized(build(), headers).response()
    cache = answer_cache(request)
    normalized = tuple(sorted((k, _hashable(v)) for k, v in params.items()))
    key = (request.scope["path"], release, pinned, fmt, normalized)
    cached = cache.get(key)
    if cached is None:
        cached = serialized(build(), headers)
        cache.put(key, cached)
    return cached.response()


def _hashable(value: object) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, Hashable):
        return value
    raise TypeError(f"cannot key an answer on {value!r}")
