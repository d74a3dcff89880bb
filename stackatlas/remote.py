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
    """Poll until the run ``first_id`` and the follow-ups it started have finished."""
    from stackatlas.scheduler import FOLLOW_UPS

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        first = _json(httpx.get(f"{url}/v1/runs/{first_id}", timeout=10.0))
        follow = _json(httpx.get(f"{url}/v1/runs", params={"parent": first_id}, timeout=10.0))
        chain = [first, *sorted(follow.get("runs", []), key=lambda r: r["id"])]
        finished = all(run.get("status") in FINISHED for run in chain)
        complete = (first.get("status") != "succeeded" or chain[-1]["status"] != "succeeded"
                    or len(chain) == 1 + len(FOLLOW_UPS[first["job"]]))
        if (finished and complete) or (deadline is not None and time.monotonic() > deadline):
            return chain
        time.sleep(poll)


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
