"""Prometheus metrics of the API: the request middleware and the ``/metrics`` endpoint.

The counters live in ``stackatlas.metrics`` (stages count there too); this module times each
request and labels it by its route *template* (``/v1/repos/{owner}/{name}``), never the raw
path, so that the number of series stays bounded whatever clients ask for.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stackatlas import metrics

UNMATCHED = "unmatched"

router = APIRouter(tags=["meta"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics (text exposition format)",
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Metrics."}},
)
def prometheus_metrics() -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, or ``unmatched``."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            metrics.observe_request(
                scope.get("method", "GET"),
                route_template(scope),
                status,
                time.perf_counter() - started,
            )
