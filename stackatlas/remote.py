"""Talking to a running `stackatlas serve` over HTTP: the CLI's way in while the server holds
the database (DuckDB admits one writing process, and no reader beside it).

The server is found at the settings' host and port; writes send the settings' API key.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from stackatlas.errors import AuthError, ConflictError, StackatlasError
from stackatlas.settings import Settings

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0
FINISHED = ("succeeded", "failed")


def server_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def running_server(settings: Settings) -> str | None:
    """The URL of a stackatlas server answering at the settings' address, if one does."""
    url = server_url(settings)
    try:
        answer = httpx.get(f"{url}/v1/runs", params={"limit": 1}, timeout=PROBE_TIMEOUT)
    except httpx.HTTPError:
        return None
    if answer.status_code == 200 and "runs" in _json(answer):
        return url
    return None


def trigger(url: str, settings: Settings, job: str) -> dict[str, Any]:
    """``POST /v1/runs``: the queued run, or the server's refusal as one clear error."""
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    answer = httpx.post(
        f"{url}/v1/runs", json={"job": job}, headers={"X-API-Key": key}, timeout=10.0
    )
    if answer.status_code == 202:
        return _json(answer)
    raise _refusal(url, answer)


def wait_for_chain(
    url: str, first_id: int, *, poll: float = 1.0, timeout: float | None = None
) -> list[dict[str, Any]]:
    """Poll until the run ``first_id`` and the follow-ups it queued have finished."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        runs = _json(httpx.get(f"{url}/v1/runs", params={"limit": 20}, timeout=10.0))["runs"]
        mine = sorted((r for r in runs if r["id"] >= first_id), key=lambda r: r["id"])
        chain = [r for r in mine if r["id"] == first_id or r["trigger"].startswith("after:")]
        first = next((r for r in chain if r["id"] == first_id), None)
        settled = all(r["status"] in FINISHED for r in chain)
        if first is not None and settled and not _follow_up_pending(first, chain):
            return chain
        if deadline is not None and time.monotonic() > deadline:
            return chain
        time.sleep(poll)


def _follow_up_pending(first: dict[str, Any], chain: list[dict[str, Any]]) -> bool:
    """A succeeded run whose follow-ups are not all recorded yet (they start right after)."""
    from stackatlas.scheduler import FOLLOW_UPS

    if first["status"] != "succeeded":
        return False
    last = chain[-1]
    expected = FOLLOW_UPS[first["job"]]
    return last["status"] == "succeeded" and len(chain) < 1 + len(expected)


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(url: str, answer: httpx.Response) -> StackatlasError:
    error = _json(answer).get("error") or {}
    message = f"the server at {url} refused: {error.get('message') or answer.status_code}"
    hint = error.get("hint") or ""
    if answer.status_code == 409:
        return ConflictError(message, hint)
    if answer.status_code == 401:
        return AuthError(message, "set STACKATLAS_API_KEY to the server's key")
    return StackatlasError(message, hint)
