"""The dashboard page at ``/``: one offline HTML document, re-rendered when the data changes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import CursorDep
from dashboards.page import DashboardCache

router = APIRouter(tags=["dashboard"])


@router.get("/", response_class=HTMLResponse, summary="The dashboard page")
def dashboard(request: Request, cursor: CursorDep) -> HTMLResponse:
    cache: DashboardCache = request.app.state.dashboard_cache
    return HTMLResponse(cache.page(cursor))
