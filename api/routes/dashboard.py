"""The dashboard pages and their static files (Vega served by the app: no CDN, works offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.deps import CursorDep, SettingsDep
from dashboards import pages
from dashboards.charts import javascript_bundle
from dashboards.data import resolve_release
from stackatlas.errors import NotFoundError
from warehouse.repos import find_repository

router = APIRouter(tags=["dashboard"], include_in_schema=False)

STATIC = Path(pages.__file__).parent / "static"
_STATIC_TYPES = {"app.js": "text/javascript", "style.css": "text/css"}
# Static files change only with a new version of the app; the bundle's name carries its version.
_LONG_CACHE = {"Cache-Control": "public, max-age=86400"}


def _taxonomy() -> dict[str, Any]:
    from classifier.taxonomy import taxonomy_as_dict

    return taxonomy_as_dict()


def _facts(cursor: CursorDep, settings: SettingsDep) -> pages.PageFacts:
    return pages.page_facts(cursor, _taxonomy(), settings.min_stars)


def _html(text: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status_code, headers={"Cache-Control": "no-cache"})


@router.get("/", response_class=HTMLResponse)
def stack_page(cursor: CursorDep, settings: SettingsDep) -> HTMLResponse:
    return _html(pages.chart_page("stack", _facts(cursor, settings)))


@router.get("/share", response_class=HTMLResponse)
def share_page(cursor: CursorDep, settings: SettingsDep) -> HTMLResponse:
    return _html(pages.chart_page("share", _facts(cursor, settings)))


@router.get("/new", response_class=HTMLResponse)
def new_page(cursor: CursorDep, settings: SettingsDep) -> HTMLResponse:
    return _html(pages.chart_page("new", _facts(cursor, settings)))


@router.get("/category/{name}", response_class=HTMLResponse)
def category_page(name: str, cursor: CursorDep, settings: SettingsDep) -> HTMLResponse:
    facts = _facts(cursor, settings)
    category = next((c for c in facts.categories if c["name"] == name), None)
    if category is None:
        known = ", ".join(c["name"] for c in facts.categories)
        return _html(pages.not_found_page(facts, f"No category {name!r}; known: {known}."), 404)
    return _html(pages.category_page(cursor, category, facts))


@router.get("/explore", response_class=HTMLResponse)
def explore_page(cursor: CursorDep, settings: SettingsDep) -> HTMLResponse:
    return _html(pages.explorer_page(_facts(cursor, settings)))


@router.get("/repository/{owner}/{name}", response_class=HTMLResponse)
def repository_page(owner: str, name: str, cursor: CursorDep, settings: SettingsDep
                    ) -> HTMLResponse:  # fmt: skip
    facts = _facts(cursor, settings)
    repo = find_repository(cursor, f"{owner}/{name}")
    if repo is None:
        message = f"Repository {owner}/{name} is not in the warehouse."
        return _html(pages.not_found_page(facts, message), 404)
    return _html(pages.repository_page(cursor, repo, facts))


@router.get("/methodology", response_class=HTMLResponse)
def methodology_page(cursor: CursorDep, settings: SettingsDep) -> HTMLResponse:
    facts = _facts(cursor, settings)
    release = resolve_release(cursor, None)
    return _html(pages.methodology_page(facts, release.methodology if release else None))


@router.get(pages.VEGA_SCRIPT)
def vega_script() -> Response:
    return Response(javascript_bundle(), media_type="text/javascript", headers=_LONG_CACHE)


@router.get("/static/{filename}")
def static_file(filename: str) -> Response:
    if filename not in _STATIC_TYPES:
        raise NotFoundError(f"no static file {filename}", "see the page source for the files")
    text = (STATIC / filename).read_text(encoding="utf-8")
    return Response(text, media_type=_STATIC_TYPES[filename], headers={"Cache-Control": "no-cache"})
