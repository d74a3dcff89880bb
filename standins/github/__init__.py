"""A faithful local stand-in for GitHub's REST API, serving a snapshot file.

Public API::

    from standins.github import (
        SnapshotRepo, Snapshot, load_snapshot, write_snapshot,
        parse_query, search_repos, QueryError,
        FaultConfig, RateLimitConfig, ReplayServer, ReplayStats, create_app, serve_replay,
    )
"""

from standins.github.faults import FaultConfig
from standins.github.query import QueryError, SearchQuery, parse_query, search_repos
from standins.github.ratelimit import RateLimitConfig
from standins.github.server import ReplayServer, ReplayStats, create_app, serve_replay
from standins.github.snapshot import Snapshot, SnapshotRepo, load_snapshot, write_snapshot

__all__ = [
    "FaultConfig",
    "QueryError",
    "RateLimitConfig",
    "ReplayServer",
    "ReplayStats",
    "SearchQuery",
    "Snapshot",
    "SnapshotRepo",
    "create_app",
    "load_snapshot",
    "parse_query",
    "search_repos",
    "serve_replay",
    "write_snapshot",
]
