"""HTTP around every route: strong ETags, 304, Cache-Control, HEAD, gzip, CORS, URL bounds.

``install_http_behaviour(app, settings)`` wraps the app (outermost first) in

- CORS (``STACKATLAS_CORS_ORIGINS``; none configured: no CORS headers, browsers refuse),
- ``ConditionalGetMiddleware``: refuses over-long URLs (414 in the one error shape), answers HEAD
  as the GET it mirrors without the body, gives each whole 200 answer of a GET a strong ETag (a
  hash of the bytes sent) and a ``Cache-Control`` unless the route set one, and answers 304 when
  ``If-None-Match`` names that ETag,
- Starlette's ``GZipMiddleware``. Its zlib output is deterministic, so the ETag of a gzipped
  answer (hashed after compression) is stable and differs from the identity answer's, as a strong
  ETag must.

A route serving a figure that can never change (pinned to a published release) calls
``cache_immutable(response)`` so that clients and proxies keep it for a year.
"""

from __future__ import annotations

import hashlib

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from stackatlas.settings import Settings

# Longest path plus query string accepted; longer ones get a 414 before any route runs.
MAX_URL_LENGTH = 4096
GZIP_MINIMUM_SIZE = 500
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
_CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
_DROPPED_ON_304 = frozenset({b"content-length", b"content-type", b"content-encoding"})
_EXPOSED_HEADERS = ("ETag", "Link", "X-Total-Count", "Content-Disposition")


def cache_immutable(response: Response) -> None:
    """Mark an answer that never changes (a published release's figure) as cacheable for a year."""
    response.headers["Cache-Control"] = IMMUTABLE_CACHE_CONTROL


def strong_etag(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison (RFC 9110 13.1.2): ``W/"x"`` matches ``"x"``."""
    candidates = [part.strip() for part in if_none_match.split(",")]
    return "*" in candidates or etag in (c.removeprefix("W/") for c in candidates)


def too_long_response(length: int) -> JSONResponse:
    return JSONResponse(
        error_body(
            "uri_too_long",
            f"the request URL is {length} characters long; at most {MAX_URL_LENGTH} are accepted",
            "send fewer or shorter query parameters (several values of a filter can be one"
            " comma-separated list)",
        ),
        status_code=414,
    )


class ConditionalGetMiddleware:
    """ETag, Cache-Control, 304, HEAD and the URL bound (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, cache_max_age: int) -> None:
        self.app = app
        self.cache_control = f"public, max-age={cache_max_age}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = len(scope.get("raw_path") or scope["path"]) + len(scope.get("query_string", b""))
        if length > MAX_URL_LENGTH:
            await too_long_response(length)(scope, receive, send)
            return
        method = scope["method"]
        if method not in _CACHEABLE_METHODS:
            await self.app(scope, receive, send)
            return
        if method == "HEAD":
            scope = {**scope, "method": "GET"}
        responder = _ConditionalResponder(
            send,
            if_none_match=Headers(scope=scope).get("if-none-match"),
            head=method == "HEAD",
            cache_control=self.cache_control,
        )
        await self.app(scope, receive, responder.send)


class _ConditionalResponder:
    """Holds the start of an answer until its whole body is known (streams pass through)."""

    def __init__(
        self, send: Send, *, if_none_match: str | None, head: bool, cache_control: str
    ) -> None:
        self._send = send
        self._if_none_match = if_none_match
        self._head = head
        self._cache_control = cache_control
        self._start: Message | None = None
        self._streaming = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._flush_start()
            await self._send(message)
            return
        if self._streaming or message.get("more_body", False):
            await self._pass_through(message)
            return
        await self._send_whole(message)

    async def _flush_start(self) -> None:
        if self._start is not None:
            await self._send(self._start)
            self._start = None

    async def _pass_through(self, message: Message) -> None:
        self._streaming = True
        await self._flush_start()
        if self._head:
            message = {**message, "body": b""}
        await self._send(message)

    async def _send_whole(self, message: Message) -> None:
        start = self._start
        assert start is not None
        self._start = None
        body: bytes = message.get("body", b"")
        headers = MutableHeaders(scope=start)
        if start["status"] == 200:
            etag = headers.get("etag") or strong_etag(body)
            headers["ETag"] = etag
            headers.setdefault("Cache-Control", self._cache_control)
            if self._if_none_match is not None and etag_matches(self._if_none_match, etag):
                start = _not_modified(start)
                body = b""
        if self._head:
            body = b""
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


def _not_modified(start: Message) -> Message:
    headers = [(k, v) for k, v in start["headers"] if k.lower() not in _DROPPED_ON_304]
    return {**start, "status": 304, "headers": headers}


def cors_origins(settings: Settings) -> list[str]:
    return [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]


def install_http_behaviour(app: FastAPI, settings: Settings) -> None:
    """Wrap ``app`` in gzip, conditional GETs and (when origins are configured) CORS."""
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE, compresslevel=6)
    app.add_middleware(ConditionalGetMiddleware, cache_max_age=settings.cache_max_age)
    origins = cors_origins(settings)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "PUT", "POST", "OPTIONS"],
            allow_headers=["X-API-Key", "If-None-Match", "Content-Type", "Accept"],
            expose_headers=list(_EXPOSED_HEADERS),
            max_age=600,
        )
