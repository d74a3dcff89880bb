"""The fake OpenAI-compatible server: each mode over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from classifier import taxonomy
from standins.fake_llm import (
    FAKE_MODEL_ID,
    UNKNOWN_CATEGORY,
    FakeLLMServer,
    keyword_answer,
    repositories_in_prompt,
)

PROMPT = "\n".join(
    [
        "Labelled examples of similar repositories:",
        "- someone/awesome-things: a list => lists",
        "",
        "Repositories to classify (one JSON object per line):",
        json.dumps({"id": 1, "full_name": "acme/awesome-agents", "description": "A curated list"}),
        json.dumps({"id": 2, "full_name": "acme/tuner", "description": "Fine-tuning for LLMs"}),
        json.dumps({"id": 3, "full_name": "acme/webframe", "description": "A fast web server"}),
    ]
)


def chat_body(**extra: object) -> dict[str, object]:
    return {
        "model": "whatever",
        "messages": [{"role": "system", "content": "rules"}, {"role": "user", "content": PROMPT}],
        **extra,
    }


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(mode="good") as running:
        yield running


@pytest.fixture
def server(shared_server: FakeLLMServer) -> FakeLLMServer:
    """One server per module (starting one costs a few hundred ms), reset for every test."""
    shared_server.reset()
    return shared_server


def post(server: FakeLLMServer, body: dict[str, object], timeout: float = 5.0) -> httpx.Response:
    return httpx.post(f"{server.url}/chat/completions", json=body, timeout=timeout)


def test_url_is_loopback_v1_and_models_lists_the_fake(server: FakeLLMServer) -> None:
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/v1")
    response = httpx.get(f"{server.url}/models", timeout=5)
    assert response.status_code == 200
    assert [model["id"] for model in response.json()["data"]] == [FAKE_MODEL_ID]


def test_good_mode_answers_every_repository_with_usage(server: FakeLLMServer) -> None:
    response = post(server, chat_body())
    assert response.status_code == 200
    payload = response.json()
    answers = json.loads(payload["choices"][0]["message"]["content"])["answers"]
    assert [a["id"] for a in answers] == [1, 2, 3]
    assert [a["category"] for a in answers] == ["lists", "model-development", "other"]
    assert all(a["category"] in taxonomy.CATEGORIES for a in answers)
    assert payload["usage"]["prompt_tokens"] > 0 and payload["usage"]["completion_tokens"] > 0
    assert payload["model"] == "whatever"


def test_requests_are_logged_with_their_authorization(server: FakeLLMServer) -> None:
    httpx.post(
        f"{server.url}/chat/completions",
        json=chat_body(),
        headers={"Authorization": "Bearer test-key"},
        timeout=5,
    )
    assert len(server.requests) == 1
    assert server.requests[0]["authorization"] == "Bearer test-key"
    assert server.requests[0]["body"]["model"] == "whatever"


def test_malformed_mode_sends_content_that_is_not_json(server: FakeLLMServer) -> None:
    server.set_mode("malformed")
    content = post(server, chat_body()).json()["choices"][0]["message"]["content"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_wrong_schema_mode_names_an_unknown_category(server: FakeLLMServer) -> None:
    server.set_mode("wrong_schema")
    content = post(server, chat_body()).json()["choices"][0]["message"]["content"]
    categories = {a["category"] for a in json.loads(content)["answers"]}
    assert categories == {UNKNOWN_CATEGORY}
    assert UNKNOWN_CATEGORY not in taxonomy.CATEGORIES


def test_error_mode_answers_500(server: FakeLLMServer) -> None:
    server.set_mode("error")
    response = post(server, chat_body())
    assert response.status_code == 500
    assert "error" in response.json()


def test_rate_limited_mode_sends_429_with_retry_after_then_recovers() -> None:
    with FakeLLMServer(mode="rate_limited", rate_limit_count=2, retry_after=3) as server:
        first, second, third = (post(server, chat_body()) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["retry-after"] == "3"


def test_slow_mode_outlasts_a_short_client_timeout() -> None:
    with FakeLLMServer(mode="slow", slow_seconds=2) as server:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            post(server, chat_body(), timeout=0.3)
        assert time.monotonic() - started < 1.5


def test_rejecting_json_schema_is_a_client_error(server: FakeLLMServer) -> None:
    server.state.reject_json_schema = True
    rejected = post(server, chat_body(response_format={"type": "json_schema"}))
    accepted = post(server, chat_body(response_format={"type": "json_object"}))
    assert (rejected.status_code, accepted.status_code) == (400, 200)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fake mode"):
        FakeLLMServer(mode="sleepy")


def test_repositories_in_prompt_reads_only_the_last_user_message() -> None:
    messages = [
        {"role": "user", "content": '{"id": 9, "full_name": "old/one"}'},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": 'text\n{"id": 1, "full_name": "a/b"}\n{"no": "id"}\n{bad'},
    ]
    assert repositories_in_prompt(messages) == [{"id": 1, "full_name": "a/b"}]


@pytest.mark.parametrize(
    ("repo", "category"),
    [
        (
            {"full_name": "x/vecstore", "description": "A vector database for embeddings"},
            "infrastructure",
        ),
        (
            {"full_name": "x/helper", "description": "An autonomous agent that writes code"},
            "app-development",
        ),
        ({"full_name": "x/course", "description": "A free course on deep learning"}, "tutorials"),
        ({"full_name": "x/game", "description": "A retro platform game"}, "other"),
    ],
)
def test_keyword_answer_follows_its_rules(repo: dict[str, str], category: str) -> None:
    assert keyword_answer({"id": 1, **repo})["category"] == category
