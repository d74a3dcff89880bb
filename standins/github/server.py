"""The replay server: GitHub's REST API answered from a snapshot, with GitHub's rules.

Endpoints: ``/search/repositories``, ``/repos/{owner}/{repo}``, ``/repositories/{id}``,
``.../readme``, ``.../stargazers/history`` and ``/rate_limit``. Every answer carries GitHub's
``x-ratelimit-*`` headers; search and core buckets are counted per client (token or address);
conditional README requests answered 304 are not counted. Faults (5xx, secondary limits,
incomplete results, latency, renames, exhausted buckets) come from a seeded ``FaultConfig``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import standins.github.content as content
from stackatlas.errors import SnapshotError
from standins.github.faults import (
    EXHAUSTED,
    INCOMPLETE,
    LATENCY,
    SECONDARY_LIMIT,
    SERVER_ERROR,
    FaultConfig,
    FaultInjector,
)
from standins.github.query import QueryError, parse_query, search_repos
from standins.github.ratelimit import CORE, SEARCH, BucketState, RateLimitConfig, RateLimiter
from standins.github.snapshot import Snapshot, SnapshotRepo, load_snapshot

logger = logging.getLogger(__name__)

SEARCH_CAP = 1000
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
DOCS_RATE_LIMITS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)


@dataclass
class ReplayStats:
    """What the server saw. ``requests`` counts requests charged to each bucket."""

    received: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    not_modified: int = 0
    primary_violations: int = 0
    secondary_violations: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def violations(self) -> int:
        """Requests sent into an empty bucket or before a retry-after elapsed."""
        return self.primary_violations + self.secondary_violations

    def copy(self) -> ReplayStats:
        return replace(
            self,
            requests=Counter(self.requests),
            faults=Counter(self.faults),
            statuses=Counter(self.statuses),
        )


def _github_error(
    http_status: int,
    message: str,
    headers: dict[str, str] | None = None,
    docs: str = content.DOCS,
    **extra: Any,
) -> JSONResponse:
    """GitHub's error shape: message, optional details, documentation_url."""
    body = {"message": message, **extra, "documentation_url": docs}
    return JSONResponse(body, status_code=http_status, headers=headers)


def _client(request: Request) -> tuple[str, bool] | None:
    """(client key, authenticated) from the Authorization header; None when it is malformed."""
    header = request.headers.get("authorization")
    if header is None:
        host = request.client.host if request.client else "unknown"
        return f"ip:{host}", False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in ("bearer", "token") or not token.strip():
        return None
    return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:16], True


def _bucket_of(path: str) -> str | None:
    if path.rstrip("/") == "/rate_limit":
        return None
    return SEARCH if path.startswith("/search/") else CORE


class ReplayState:
    """The server's mutable state: snapshot, redirects, limits, faults and stats (thread-safe)."""

    def __init__(
        self,
        snapshot: Snapshot,
        rate_limits: RateLimitConfig | None = None,
        faults: FaultConfig | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.faults = faults or FaultConfig()
        self.clock = clock or time.time
        self.limiter = RateLimiter(rate_limits, self.clock, self.faults.exhausted_buckets)
        self.injector = FaultInjector(self.faults)
        self.lock = threading.Lock()
        self.stats = ReplayStats()
        self.redirects: dict[str, int] = {}
        self.penalties: dict[str, float] = {}
        self.snapshot = Snapshot()
        self._search_cache: OrderedDict[tuple[str, str, str], list[SnapshotRepo]] = OrderedDict()
        self.set_snapshot(snapshot)

    # ------------------------------------------------------------------ snapshot

    def _renamed(self, snapshot: Snapshot) -> Snapshot:
        if not self.faults.renames:
            return snapshot
        renames = {old.lower(): new for old, new in self.faults.renames.items()}
        repos = [
            replace(r, full_name=renames[r.full_name.lower()])
            if r.full_name.lower() in renames
            else r
            for r in snapshot
        ]
        return Snapshot(repos, source=snapshot.source)

    def set_snapshot(self, snapshot: Snapshot) -> None:
        """Serve a new snapshot; a repo whose id survives under a new name redirects its old one."""
        renamed = self._renamed(snapshot)
        with self.lock:
            for old in self.faults.renames:
                original = snapshot.get(old)
                if original is not None:
                    self.redirects[old.lower()] = original.id
            for repo in self.snapshot:
                successor = renamed.get_by_id(repo.id)
                if successor is not None and successor.full_name.lower() != repo.full_name.lower():
                    self.redirects[repo.full_name.lower()] = repo.id
            for name in list(self.redirects):
                if renamed.get(name) is not None:
                    del self.redirects[name]
            self.snapshot = renamed
            self._search_cache.clear()

    def find(self, full_name: str) -> tuple[SnapshotRepo | None, bool]:
        """(repo, moved): moved is True when full_name is a former name of the repo."""
        snapshot = self.snapshot
        repo = snapshot.get(full_name)
        if repo is not None:
            return repo, False
        repo_id = self.redirects.get(full_name.lower())
        return (snapshot.get_by_id(repo_id), True) if repo_id is not None else (None, False)

    def search(self, q: str, sort: str, order: str) -> list[SnapshotRepo]:
        key = (q, sort, order)
        with self.lock:
            cached = self._search_cache.get(key)
            snapshot = self.snapshot
        if cached is not None:
            return cached
        found = search_repos(snapshot, parse_query(q), sort or None, order or None)
        with self.lock:
            self._search_cache[key] = found
            while len(self._search_cache) > 256:
                self._search_cache.popitem(last=False)
        return found

    # ------------------------------------------------------------------ accounting

    def note(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def count(self, counter: str, key: Any) -> None:
        with self.lock:
            getattr(self.stats, counter)[key] += 1

    def uncount(self, counter: str, key: Any) -> None:
        with self.lock:
            getattr(self.stats, counter)[key] -= 1

    def penalty_left(self, client: str) -> float:
        with self.lock:
            return self.penalties.get(client, 0.0) - self.clock()

    def impose_penalty(self, client: str) -> None:
        with self.lock:
            self.penalties[client] = self.clock() + self.faults.retry_after


# -------------------------------------------------------------------------------- gate


Handler = Callable[[Request], Awaitable[Response]]


def _secondary_limit(state: ReplayState, seconds: float, headers: dict[str, str]) -> Response:
    request_id = hashlib.sha1(str(state.clock()).encode()).hexdigest()[:16].upper()
    return _github_error(
        state.faults.secondary_limit_status,
        SECONDARY_MESSAGE.format(request_id=request_id),
        headers={**headers, "retry-after": str(max(1, math.ceil(seconds)))},
        docs=DOCS_RATE_LIMITS + "#about-secondary-rate-limits",
    )


def _primary_limit(client: str, bucket: BucketState, name: str) -> Response:
    who = "user" if client.startswith("token:") else client.removeprefix("ip:")
    return _github_error(
        403,
        f"API rate limit exceeded for {who}.",
        headers=bucket.headers(name),
        docs=DOCS_RATE_LIMITS,
    )


async def _gate(state: ReplayState, request: Request, call_next: Handler) -> Response:
    """Rate limits and faults around every request, then GitHub's headers on the answer."""
    state.note(received=1)
    bucket = _bucket_of(request.url.path)
    who = _client(request)
    if who is None:
        return _github_error(401, "Bad credentials")
    client, authenticated = who
    if bucket is None:
        response = await call_next(request)
        response.headers.update(state.limiter.peek(client, CORE, authenticated).headers(CORE))
        return response
    draw = state.injector.draw(search=bucket == SEARCH)
    if draw.delay > 0:
        state.count("faults", LATENCY)
        await asyncio.sleep(draw.delay)
    penalty = state.penalty_left(client)
    if penalty > 0:
        state.note(secondary_violations=1)
        headers = state.limiter.peek(client, bucket, authenticated).headers(bucket)
        return _secondary_limit(state, penalty, headers)
    allowed, limits = state.limiter.take(client, bucket, authenticated)
    if not allowed:
        state.note(primary_violations=1)
        return _primary_limit(client, limits, bucket)
    state.count("requests", bucket)
    if draw.secondary_limit:
        state.count("faults", SECONDARY_LIMIT)
        state.impose_penalty(client)
        return _secondary_limit(state, state.faults.retry_after, limits.headers(bucket))
    if draw.server_error:
        state.count("faults", SERVER_ERROR)
        message = "Server Error" if draw.server_error == 502 else "Service Unavailable"
        return _github_error(draw.server_error, message, headers=limits.headers(bucket))
    request.state.incomplete = draw.incomplete
    response = await call_next(request)
    if response.status_code == 304:
        state.note(not_modified=1)
        state.uncount("requests", bucket)
        state.limiter.refund(client, bucket)
    if draw.exhaust:
        state.count("faults", EXHAUSTED)
        state.limiter.drain(client, bucket)
    response.headers.update(state.limiter.peek(client, bucket, authenticated).headers(bucket))
    return response


# -------------------------------------------------------------------------------- routes


def _int_param(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        return default


def _paging(request: Request) -> tuple[int, int]:
    per_page = _int_param(request, "per_page", DEFAULT_PER_PAGE)
    per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
    return per_page, max(1, _int_param(request, "page", 1))


def link_header(request: Request, page: int, last: int) -> str | None:
    """GitHub's Link header: prev, next, last, first (those that apply)."""
    if last <= 1 and page <= 1:
        return None

    def url(number: int) -> str:
        return f"<{request.url.include_query_params(page=number)}>"

    links: list[str] = []
    if page > 1:
        links.append(f'{url(min(page - 1, max(last, 1)))}; rel="prev"')
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links.append(f'{url(1)}; rel="first"')
    return ", ".join(links) or None


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _not_found() -> JSONResponse:
    return _github_error(404, "Not Found", status="404")


def _moved(request: Request, repo: SnapshotRepo, suffix: str) -> JSONResponse:
    location = f"{_base_url(request)}/repositories/{repo.id}{suffix}"
    return _github_error(
        301,
        "Moved Permanently",
        headers={"location": location},
        url=location,
        docs="https://docs.github.com/v3/#http-redirects",
    )


def _search_items(
    state: ReplayState, request: Request, found: list[SnapshotRepo], start: int, per_page: int
) -> tuple[list[dict[str, Any]], bool]:
    page_repos = found[start : min(start + per_page, SEARCH_CAP)]
    items = [content.repo_json(r, _base_url(request)) for r in page_repos]
    if not getattr(request.state, "incomplete", False):
        return items, False
    state.count("faults", INCOMPLETE)
    dropped = state.injector.drop_items(len(items))
    return [item for i, item in enumerate(items) if i not in dropped], True


def _add_routes(app: FastAPI, state: ReplayState) -> None:
    @app.get("/search/repositories")
    async def search_repositories(request: Request) -> Response:
        params = request.query_params
        per_page, page = _paging(request)
        try:
            found = state.search(
                params.get("q", ""), params.get("sort", ""), params.get("order", "")
            )
        except QueryError as exc:
            code = "missing" if not params.get("q", "").strip() else "invalid"
            return _github_error(
                422,
                "Validation Failed",
                docs="https://docs.github.com/v3/search",
                errors=[{"message": str(exc), "resource": "Search", "field": "q", "code": code}],
            )
        start = (page - 1) * per_page
        if start >= SEARCH_CAP:
            return _github_error(
                422,
                "Only the first 1000 search results are available",
                docs="https://docs.github.com/v3/search/",
            )
        items, incomplete = _search_items(state, request, found, start, per_page)
        last = math.ceil(min(len(found), SEARCH_CAP) / per_page)
        link = link_header(request, page, last)
        body = {"total_count": len(found), "incomplete_results": incomplete, "items": items}
        return JSONResponse(body, headers={"link": link} if link else None)

    async def repo_answer(
        request: Request, repo: SnapshotRepo | None, moved: bool, suffix: str
    ) -> Response | SnapshotRepo:
        if repo is None:
            return _not_found()
        return _moved(request, repo, suffix) if moved else repo

    async def by_name(
        request: Request, owner: str, name: str, suffix: str
    ) -> Response | SnapshotRepo:
        repo, moved = state.find(f"{owner}/{name}")
        return await repo_answer(request, repo, moved, suffix)

    async def by_id(request: Request, repo_id: str, suffix: str) -> Response | SnapshotRepo:
        repo = state.snapshot.get_by_id(int(repo_id)) if repo_id.isdigit() else None
        return await repo_answer(request, repo, False, suffix)

    async def repository(request: Request, found: Response | SnapshotRepo) -> Response:
        if isinstance(found, Response):
            return found
        return JSONResponse(content.repo_json(found, _base_url(request)))

    async def readme(request: Request, found: Response | SnapshotRepo) -> Response:
        if isinstance(found, Response):
            return found
        if not content.has_readme(found):
            return _not_found()
        body, etag = content.readme_json(found, _base_url(request))
        tags = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
        if etag in tags or etag.removeprefix("W/") in tags or "*" in tags:
            return Response(status_code=304, headers={"etag": etag})
        return JSONResponse(body, headers={"etag": etag})

    async def history(request: Request, found: Response | SnapshotRepo) -> Response:
        """``GET .../stargazers/history?per_page=&page=`` (GitHub, Sept. 2026).

        A JSON list, newest week first, of ``{"week": "YYYY-MM-DD" (a Sunday), "stars": gained
        that week, "days": [7 ints, Sunday..Saturday]}``; the weeks sum to stargazers_count.
        Paged like other lists (per_page default 30, max 100) with a Link header.
        """
        if isinstance(found, Response):
            return found
        weeks = content.star_history(found)
        per_page, page = _paging(request)
        start = (page - 1) * per_page
        link = link_header(request, page, math.ceil(len(weeks) / per_page))
        return JSONResponse(
            weeks[start : start + per_page], headers={"link": link} if link else None
        )

    @app.get("/repos/{owner}/{name}")
    async def repo_by_name(request: Request, owner: str, name: str) -> Response:
        return await repository(request, await by_name(request, owner, name, ""))

    @app.get("/repositories/{repo_id}")
    async def repo_by_id(request: Request, repo_id: str) -> Response:
        return await repository(request, await by_id(request, repo_id, ""))

    @app.get("/repos/{owner}/{name}/readme")
    async def readme_by_name(request: Request, owner: str, name: str) -> Response:
        return await readme(request, await by_name(request, owner, name, "/readme"))

    @app.get("/repositories/{repo_id}/readme")
    async def readme_by_id(request: Request, repo_id: str) -> Response:
        return await readme(request, await by_id(request, repo_id, "/readme"))

    @app.get("/repos/{owner}/{name}/stargazers/history")
    async def history_by_name(request: Request, owner: str, name: str) -> Response:
        suffix = "/stargazers/history"
        return await history(request, await by_name(request, owner, name, suffix))

    @app.get("/repositories/{repo_id}/stargazers/history")
    async def history_by_id(request: Request, repo_id: str) -> Response:
        return await history(request, await by_id(request, repo_id, "/stargazers/history"))

    @app.get("/rate_limit")
    async def rate_limit(request: Request) -> Response:
        client, authenticated = _client(request) or ("anonymous", False)
        core = state.limiter.peek(client, CORE, authenticated).as_json()
        search = state.limiter.peek(client, SEARCH, authenticated).as_json()
        return JSONResponse({"resources": {"core": core, "search": search}, "rate": core})


def create_app(
    snapshot: Snapshot,
    rate_limits: RateLimitConfig | None = None,
    faults: FaultConfig | None = None,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The replay API as an ASGI app; its ReplayState is ``app.state.replay``."""
    state = ReplayState(snapshot, rate_limits, faults, clock)
    app = FastAPI(
        title="stackatlas replay (GitHub REST stand-in)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.replay = state

    @app.middleware("http")
    async def gate(request: Request, call_next: Handler) -> Response:
        response = await _gate(state, request, call_next)
        state.count("statuses", response.status_code)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def github_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _github_error(
            exc.status_code, "Not Found" if exc.status_code == 404 else str(exc.detail)
        )

    _add_routes(app, state)
    return app


# -------------------------------------------------------------------------------- running


def _as_snapshot(snapshot: Snapshot | str | Path) -> Snapshot:
    return snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)


class ReplayServer:
    """Runs the replay app with uvicorn in a background thread on 127.0.0.1.

    Use as a context manager; ``url`` is ``http://127.0.0.1:PORT`` once started.
    """

    def __init__(
        self,
        snapshot: Snapshot | str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: RateLimitConfig | None = None,
        faults: FaultConfig | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.app = create_app(_as_snapshot(snapshot), rate_limits, faults, clock)
        self.state: ReplayState = self.app.state.replay
        config = uvicorn.Config(
            self.app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._host = host
        self._port = port

    def start(self, timeout: float = 10.0) -> ReplayServer:
        self._thread = threading.Thread(target=self._server.run, name="replay-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SnapshotError(
                    f"replay server could not start on {self._host}:{self._port}",
                    "choose another port (0 picks a free one)",
                )
            time.sleep(0.01)
        self._port = self._server.servers[0].sockets[0].getsockname()[1]
        logger.info("replay server listening on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def stats(self) -> ReplayStats:
        """A copy of the counters so far."""
        with self.state.lock:
            return self.state.stats.copy()

    def reset_stats(self) -> None:
        with self.state.lock:
            self.state.stats = ReplayStats()

    @property
    def snapshot(self) -> Snapshot:
        return self.state.snapshot

    def replace_snapshot(self, snapshot: Snapshot | str | Path) -> None:
        """Serve another snapshot from now on (repos vanish, stars change, renames redirect)."""
        self.state.set_snapshot(_as_snapshot(snapshot))


def serve_replay(
    snapshot_path: str | Path,
    port: int = 8765,
    host: str = "127.0.0.1",
    rate_limits: RateLimitConfig | None = None,
    faults: FaultConfig | None = None,
) -> None:
    """Serve a snapshot until interrupted (the ``stackatlas replay`` command)."""
    app = create_app(load_snapshot(snapshot_path), rate_limits, faults)
    logger.info("replaying %s on http://%s:%d", snapshot_path, host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
