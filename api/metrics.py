"""Prometheus metrics of the API: the request middleware and the ``/metrics`` endpoint.

The counters live in ``stackatlas.metrics`` (stages count there too); this module times each
request and labels it by its route *template* (``/v1/repos/{owner}/{name}``), never the raw
path, so that the number of series stays bounded whatever clients ask for.
"""

from __future__ import annotations

import time

import duckdb
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import CursorDep
from stackatlas import metrics
from warehouse.status import current_labels_by_method

UNMATCHED = "unmatched"

router = APIRouter(tags=["meta"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics (text exposition format)",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics."}
    },
)
def prometheus_metrics(cursor: CursorDep) -> Response:
    try:
        labels = current_labels_by_method(cursor)
    except duckdb.Error:  # the process metrics still answer when the database does not
        labels = {}
    warehouse = CollectorRegistry(auto_describe=False)
    warehouse.register(WarehouseCollector(labels))
    body = generate_latest(metrics.registry) + generate_latest(warehouse)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class WarehouseCollector(Collector):
    """Gauges read from the warehouse at scrape time (they outlive any one process)."""

    def __init__(self, labels_by_method: dict[str, int]) -> None:
        self.labels_by_method = labels_by_method

    def collect(self) -> list[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "stackatlas_current_labels",
            "Active repositories by the method of the label in force.",
            labels=["method"],
        )
        for method, count in self.labels_by_method.items():
            gauge.add_metric([method], count)
        return [gauge]


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
