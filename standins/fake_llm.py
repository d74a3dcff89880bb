"""A fake OpenAI-compatible chat server for tests and the offline demo.

It speaks ``POST /v1/chat/completions`` and ``GET /v1/models`` over real HTTP and misbehaves on
request, one mode at a time:

- ``good``: a valid JSON answer for every repository of the batch, the category chosen by keyword
  rules over the repository text found in the prompt, with usage tokens;
- ``malformed``: a body whose message content is not JSON;
- ``slow``: sleeps ``slow_seconds`` before answering (past a client's timeout);
- ``rate_limited``: 429 with ``retry-after`` for the first ``rate_limit_count`` requests, then good;
- ``error``: 500 on every request;
- ``wrong_schema``: valid JSON naming a category outside the taxonomy.

``FakeLLMServer`` runs it on 127.0.0.1 in a background thread; ``serve_fake_llm`` blocks (CLI).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

FakeMode = Literal["good", "malformed", "slow", "rate_limited", "error", "wrong_schema"]
FAKE_MODES: tuple[str, ...] = (
    "good",
    "malformed",
    "slow",
    "rate_limited",
    "error",
    "wrong_schema",
)
FAKE_MODEL_ID = "fake-llm"
UNKNOWN_CATEGORY = "quantum-blockchain"

# A repository whose text has none of these is "other" (a web framework is not an AI framework).
_AI_WORDS: tuple[str, ...] = (
    " ai ",
    "llm",
    "gpt",
    "model",
    "neural",
    "machine learning",
    "deep learning",
    "agent",
    "embedding",
    "vector",
    "inference",
    "fine tun",
    "finetun",
    "quantiz",
    "quantis",
    "dataset",
    " rag ",
    "retrieval",
    "prompt",
    "diffusion",
    "transformer",
    "chatbot",
    "copilot",
)

# Checked in order: the first rule whose keyword occurs in the repository text wins.
_KEYWORD_RULES: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("lists", None, ("awesome", "curated list", "list of", "collection of resources")),
    ("tutorials", None, ("tutorial", "course", "book", "notebook", "lessons", "learn ")),
    ("model-development", "inference optimisation", ("quantiz", "quantis", "kernel", "cuda")),
    ("model-development", "modelling and training", ("fine-tun", "finetun", "training", "train ")),
    ("model-development", "dataset engineering", ("dataset", "data labeling", "annotation")),
    ("infrastructure", "vector database", ("vector database", "vector search", "embedding store")),
    ("infrastructure", "serving", ("serving", "inference server", "deploy models")),
    ("infrastructure", "monitoring", ("observability", "monitoring", "tracing")),
    ("app-development", "agents", ("agent",)),
    ("app-development", "context construction", ("rag", "retrieval", "knowledge base")),
    ("app-development", "prompt engineering", ("prompt", "structured output")),
    ("app-development", "application frameworks", ("framework", "sdk", "toolkit", "library")),
    ("models", "language", ("weights", "checkpoint", "pretrained", "official code", "model")),
    ("applications", "bots", ("chatbot", "assistant", "gpt", "llm", "copilot", " ai ")),
)


@dataclass
class FakeLLMState:
    """What the server does now and what it has been asked; tests may change it between calls."""

    mode: str = "good"
    rate_limit_count: int = 1
    retry_after: float = 1.0
    slow_seconds: float = 5.0
    reject_json_schema: bool = False
    reject_status: int = 400
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, entry: dict[str, Any]) -> int:
        """Log one request; returns its 1-based number."""
        with self._lock:
            self.requests.append(entry)
            return len(self.requests)


def create_fake_llm_app(state: FakeLLMState | None = None) -> FastAPI:
    """The fake server as an ASGI app; ``app.state.fake`` holds its ``FakeLLMState``."""
    fake = state or FakeLLMState()
    app = FastAPI(title="stackatlas fake LLM")
    app.state.fake = fake

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": FAKE_MODEL_ID, "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> JSONResponse:
        body = await request.json()
        number = fake.record(
            {
                "body": body,
                "authorization": request.headers.get("authorization"),
                "received_at": time.time(),
            }
        )
        return await _answer(fake, body, number)

    return app


async def _answer(fake: FakeLLMState, body: dict[str, Any], number: int) -> JSONResponse:
    response_format = body.get("response_format") or {}
    if fake.reject_json_schema and response_format.get("type") == "json_schema":
        return _error(fake.reject_status, "response_format json_schema is not supported")
    mode = fake.mode
    if mode == "error":
        return _error(500, "the fake server fails on purpose")
    if mode == "rate_limited" and number <= fake.rate_limit_count:
        return _error(429, "rate limited", headers={"retry-after": _seconds(fake.retry_after)})
    if mode == "slow":
        await asyncio.sleep(fake.slow_seconds)
    repos = repositories_in_prompt(body.get("messages", []))
    if mode == "malformed":
        content = '{"answers": [{"id": 1, "category": "app-dev'  # cut off mid-string
    elif mode == "wrong_schema":
        content = json.dumps({"answers": [_unknown_answer(repo) for repo in repos]})
    else:
        content = json.dumps({"answers": [keyword_answer(repo) for repo in repos]})
    return JSONResponse(_completion(body, content))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    payload = {"error": {"message": message, "type": "fake_error", "code": status}}
    return JSONResponse(payload, status_code=status, headers=headers)


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    prompt_tokens = max(1, prompt_chars // 4)
    completion_tokens = max(1, len(content) // 4)
    return {
        "id": f"chatcmpl-fake-{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", FAKE_MODEL_ID),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def repositories_in_prompt(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The repositories of the last user message: its lines that are JSON objects with an id."""
    user_messages = [m for m in messages if m.get("role") == "user"]
    if not user_messages:
        return []
    repos = []
    for line in str(user_messages[-1].get("content", "")).splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and "id" in item:
            repos.append(item)
    return repos


def keyword_answer(repo: dict[str, Any]) -> dict[str, Any]:
    """A plausible answer for one repository from keyword rules (no model involved)."""
    text = " ".join(
        str(repo.get(key) or "") for key in ("full_name", "description", "readme")
    ).lower()
    text = f" {text} {' '.join(repo.get('topics') or [])} ".replace("-", " ").replace("_", " ")
    if not any(word in text for word in _AI_WORDS):
        return _answer_row(repo, "other", None, 0.6, "has no AI word")
    for category, subcategory, keywords in _KEYWORD_RULES:
        matched = next((k for k in keywords if k.replace("-", " ") in text), None)
        if matched:
            return _answer_row(repo, category, subcategory, 0.85, f"mentions '{matched.strip()}'")
    return _answer_row(repo, "applications", None, 0.5, "is about AI but fits no narrower rule")


def _unknown_answer(repo: dict[str, Any]) -> dict[str, Any]:
    return _answer_row(repo, UNKNOWN_CATEGORY, None, 0.99, "a category the taxonomy lacks")


def _answer_row(
    repo: dict[str, Any], category: str, subcategory: str | None, confidence: float, why: str
) -> dict[str, Any]:
    return {
        "id": repo.get("id"),
        "category": category,
        "subcategory": subcategory,
        "confidence": confidence,
        "rationale": f"The fake server chose {category} because the text {why}.",
    }


class FakeLLMServer:
    """The fake server on 127.0.0.1 and a free port, in a background thread.

    >>> with FakeLLMServer(mode="good") as server:
    ...     client = LLMClient(server.url, "fake-llm", None, timeout=5, max_retries=1)
    """

    def __init__(self, mode: str = "good", **options: Any) -> None:
        if mode not in FAKE_MODES:
            raise ValueError(f"unknown fake mode {mode!r}; expected one of {FAKE_MODES}")
        self.state = FakeLLMState(mode=mode, **options)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """The OpenAI-style base URL, ending in /v1."""
        if self._socket is None:
            raise RuntimeError("the fake LLM server is not running")
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.state.requests

    def reset(self, mode: str = "good") -> None:
        """Back to a fresh state (default options, empty request log), keeping the port."""
        self.set_mode(mode)
        defaults = FakeLLMState()
        self.state.rate_limit_count = defaults.rate_limit_count
        self.state.retry_after = defaults.retry_after
        self.state.slow_seconds = defaults.slow_seconds
        self.state.reject_json_schema = defaults.reject_json_schema
        self.state.reject_status = defaults.reject_status
        self.state.requests.clear()

    def set_mode(self, mode: str) -> None:
        if mode not in FAKE_MODES:
            raise ValueError(f"unknown fake mode {mode!r}; expected one of {FAKE_MODES}")
        self.state.mode = mode

    def start(self) -> FakeLLMServer:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            create_fake_llm_app(self.state),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        self._wait_until_started()
        log.debug("fake LLM server listening on %s (mode %s)", self.url, self.state.mode)
        return self

    def _wait_until_started(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self._server is not None and not self._server.started:
            if time.monotonic() > deadline or not (self._thread and self._thread.is_alive()):
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_fake_llm(port: int, host: str = "127.0.0.1", mode: str = "good") -> None:
    """Run the fake server in the foreground until interrupted (for the demo and the CLI)."""
    if mode not in FAKE_MODES:
        raise ValueError(f"unknown fake mode {mode!r}; expected one of {FAKE_MODES}")
    log.info("fake LLM server on http://%s:%d/v1 (mode %s)", host, port, mode)
    uvicorn.run(
        create_fake_llm_app(FakeLLMState(mode=mode)), host=host, port=port, log_level="warning"
    )
