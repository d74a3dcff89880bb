"""The LLM stage against the fake OpenAI-compatible server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import httpx
import jsonschema
import pytest

from classifier import prompts, taxonomy
from classifier.fewshot import FewShotIndex
from classifier.labels import LabeledRepo, RepoText
from classifier.llm import (
    FLAG_FALLBACK,
    FLAG_INVALID_CATEGORY,
    FORMAT_JSON_OBJECT,
    FORMAT_JSON_SCHEMA,
    FORMAT_PLAIN,
    LLMClient,
    LLMRefiner,
    MalformedAnswerError,
    count_priority,
    match_rows,
    parse_answer_rows,
    parse_retry_after,
    read_answer,
)
from classifier.llm_cache import DuckDBLLMCache, InMemoryLLMCache, LLMCache
from classifier.model import Prediction
from stackatlas.errors import LLMError
from stackatlas.settings import Settings
from standins.fake_llm import FakeLLMServer

API_KEY = "sk-test-not-a-real-key"

TEXTS = [
    RepoText("acme/awesome-agents", "A curated list of agent frameworks and papers"),
    RepoText("acme/tuner", "Parameter-efficient fine-tuning of large language models"),
    RepoText("acme/vecstore", "A vector database written in Rust", topics=["vector-search"]),
    RepoText("acme/webframe", "A fast web framework for Go", language="Go"),
    RepoText("acme/helper", "An autonomous agent that opens pull requests"),
    RepoText("acme/course", "A twelve-week course on machine learning"),
    RepoText("acme/quant", "4-bit quantization kernels for inference"),
    RepoText("acme/plain", ""),
]

EXAMPLES = [
    LabeledRepo(
        full_name="ex/peft-like",
        description="Fine-tuning adapters for transformers",
        layer="model",
        category="model-development",
        subcategory="fine-tuning",
    ),
    LabeledRepo(
        full_name="ex/awesome-llm",
        description="A curated list of LLM resources",
        layer="none",
        category="lists",
    ),
    LabeledRepo(
        full_name="ex/vector-db",
        description="Open-source vector database",
        layer="infrastructure",
        category="infrastructure",
        subcategory="vector database",
    ),
    LabeledRepo(
        full_name="ex/agent-kit",
        description="Build autonomous agents in Python",
        layer="application",
        category="app-development",
        subcategory="agents",
    ),
    LabeledRepo(
        full_name="ex/flask-like",
        description="A micro web framework",
        layer="none",
        category="other",
    ),
]


def prediction(confidence: float, category: str = "applications") -> Prediction:
    return Prediction(
        layer=taxonomy.layer_of(category),
        category=category,
        subcategory="",
        confidence=confidence,
        method="model",
        model_version="model-v1",
        rationale="model said so",
    )


def unsure(count: int) -> list[Prediction]:
    return [prediction(0.2) for _ in range(count)]


def client_for(url: str, **options: object) -> LLMClient:
    settings: dict[str, object] = {"timeout": 5.0, "max_retries": 2, "backoff": 0.01}
    settings.update(options)
    return LLMClient(url, "fake-llm", API_KEY, **settings)  # type: ignore[arg-type]


def refiner_for(url: str, cache: LLMCache | None = None, **options: object) -> LLMRefiner:
    client_options = {k: options.pop(k) for k in ("timeout", "max_retries") if k in options}
    return LLMRefiner(
        client_for(url, **client_options),
        EXAMPLES,
        cache if cache is not None else InMemoryLLMCache(),
        **options,  # type: ignore[arg-type]
    )


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(mode="good") as running:
        yield running


@pytest.fixture
def server(shared_server: FakeLLMServer) -> FakeLLMServer:
    """One server per module (starting one costs a few hundred ms), reset for every test."""
    shared_server.reset()
    return shared_server


def user_prompts(server: FakeLLMServer) -> list[str]:
    return [r["body"]["messages"][-1]["content"] for r in server.requests]


# --- good answers ---------------------------------------------------------------------------


def test_good_answers_replace_unsure_predictions(server: FakeLLMServer) -> None:
    refiner = refiner_for(server.url, batch_size=10)
    refined, stats = refiner.refine(TEXTS, unsure(len(TEXTS)))
    by_name = {t.full_name: p for t, p in zip(TEXTS, refined, strict=True)}
    assert by_name["acme/awesome-agents"].category == "lists"
    assert by_name["acme/tuner"].category == "model-development"
    assert by_name["acme/vecstore"].category == "infrastructure"
    assert by_name["acme/webframe"].category == "other"
    for refined_prediction in refined:
        assert refined_prediction.method == "llm"
        assert refined_prediction.prompt_version == prompts.PROMPT_VERSION
        assert refined_prediction.layer == taxonomy.layer_of(refined_prediction.category)
        assert refined_prediction.rationale.startswith("The fake server chose")
        assert refined_prediction.flags is None
        assert refined_prediction.model_version == "fake-llm"
    assert (stats.candidates, stats.sent, stats.requests, stats.answered) == (8, 8, 1, 8)
    assert stats.prompt_tokens > 0 and stats.completion_tokens > 0 and stats.fallbacks == 0


def test_confident_predictions_are_not_sent(server: FakeLLMServer) -> None:
    predictions = [prediction(0.95) if i % 2 else prediction(0.3) for i in range(len(TEXTS))]
    refined, stats = refiner_for(server.url, threshold=0.6).refine(TEXTS, predictions)
    assert stats.candidates == stats.sent == 4
    assert [p.method for p in refined] == ["llm", "model"] * 4
    prompt = user_prompts(server)[0]
    assert "acme/awesome-agents" in prompt and "acme/tuner" not in prompt.split("classify")[1]


def test_request_carries_schema_key_and_few_shot_examples(server: FakeLLMServer) -> None:
    refiner_for(server.url).refine(TEXTS[:2], unsure(2))
    request = server.requests[0]
    body = request["body"]
    assert request["authorization"] == f"Bearer {API_KEY}"
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema == prompts.answer_schema()
    assert body["temperature"] == 0 and body["max_tokens"] == prompts.completion_budget(2)
    system, user = body["messages"]
    assert "model-development" in system["content"] and "Hard cases" in system["content"]
    assert "ex/peft-like" in user["content"] and "ex/awesome-llm" in user["content"]


def test_batches_keep_to_one_request_per_ten_repositories(server: FakeLLMServer) -> None:
    texts = [RepoText(f"acme/agent-{i}", f"Agent number {i}") for i in range(95)]
    _, stats = refiner_for(server.url, batch_size=10).refine(texts, unsure(95))
    assert stats.requests == 10 == len(server.requests)
    assert stats.answered == 95
    assert stats.requests / len(texts) <= 0.11


def test_rerun_is_answered_from_the_cache(server: FakeLLMServer) -> None:
    cache = InMemoryLLMCache()
    first, _ = refiner_for(server.url, cache=cache).refine(TEXTS, unsure(len(TEXTS)))
    second, stats = refiner_for(server.url, cache=cache).refine(TEXTS, unsure(len(TEXTS)))
    assert len(server.requests) == 1
    assert (stats.requests, stats.cache_hits, stats.total_tokens) == (0, len(TEXTS), 0)
    assert [p.category for p in second] == [p.category for p in first]


def test_duckdb_cache_survives_a_new_connection(server: FakeLLMServer, db_path: Path) -> None:
    from warehouse.db import connect

    with connect(db_path) as con:
        refiner_for(server.url, cache=DuckDBLLMCache(con)).refine(TEXTS, unsure(len(TEXTS)))
    with connect(db_path) as con:
        _, stats = refiner_for(server.url, cache=DuckDBLLMCache(con)).refine(
            TEXTS, unsure(len(TEXTS))
        )
        rows = con.execute("SELECT prompt_version, model, count(*) FROM llm_cache GROUP BY ALL")
        assert rows.fetchall() == [(prompts.PROMPT_VERSION, "fake-llm", len(TEXTS))]
    assert stats.cache_hits == len(TEXTS) and stats.requests == 0
    assert len(server.requests) == 1


def test_cache_key_changes_with_text_model_and_prompt(con: duckdb.DuckDBPyConnection) -> None:
    cache = DuckDBLLMCache(con)
    answer = {"category": "lists", "subcategory": "", "confidence": 0.9, "rationale": "r"}
    cache.put_many({"h1": answer}, "p1", "m1")
    cache.put_many({"h1": {**answer, "category": "other"}}, "p1", "m1")  # replaces
    assert cache.get_many(["h1", "h2"], "p1", "m1") == {"h1": {**answer, "category": "other"}}
    assert cache.get_many(["h1"], "p2", "m1") == {}
    assert cache.get_many(["h1"], "p1", "m2") == {}
    before = prompts.repository_fingerprint(TEXTS[0])
    assert prompts.repository_fingerprint(RepoText("acme/awesome-agents", "changed")) != before
    assert prompts.repository_fingerprint(RepoText("other/name", TEXTS[0].description)) != before


# --- malformed and wrong answers ------------------------------------------------------------


def assert_fallback(refined: Sequence[Prediction], reason: str) -> None:
    for refined_prediction in refined:
        assert refined_prediction.method == "model"
        assert refined_prediction.category == "applications"
        assert refined_prediction.flags is not None
        assert FLAG_FALLBACK in refined_prediction.flags
        assert f"reason={reason}" in refined_prediction.flags


def test_malformed_json_keeps_the_model_label_flagged(server: FakeLLMServer) -> None:
    server.set_mode("malformed")
    cache = InMemoryLLMCache()
    refined, stats = refiner_for(server.url, cache=cache, batch_size=4).refine(
        TEXTS, unsure(len(TEXTS))
    )
    assert_fallback(refined, "malformed_answer")
    # a junk answer is one batch's problem: the next batch is still asked
    assert stats.requests == 2 and stats.failed_requests == 2
    assert stats.fallbacks == len(TEXTS) and stats.fallback_reasons == {"malformed_answer": 8}
    assert stats.prompt_tokens > 0  # a junk answer still costs tokens
    assert len(cache) == 0


def test_unknown_category_keeps_the_model_label_flagged(server: FakeLLMServer) -> None:
    server.set_mode("wrong_schema")
    refined, stats = refiner_for(server.url).refine(TEXTS, unsure(len(TEXTS)))
    assert_fallback(refined, "invalid_category")
    assert all(FLAG_INVALID_CATEGORY in (p.flags or "") for p in refined)
    assert stats.answered == 0 and stats.fallbacks == len(TEXTS)


# --- timeouts, errors, dead endpoints -------------------------------------------------------


def test_timeouts_are_retried_then_fall_back(caplog: pytest.LogCaptureFixture) -> None:
    with FakeLLMServer(mode="slow", slow_seconds=3) as server:
        refiner = refiner_for(server.url, timeout=0.3, max_retries=1, batch_size=4)
        refined, stats = refiner.refine(TEXTS, unsure(len(TEXTS)))
        attempts = len(server.requests)
    assert attempts == 2  # one try and one retry; the second batch is not sent
    assert_fallback(refined, "endpoint_unavailable")
    assert stats.requests == 1 and stats.failed_requests == 1 and stats.fallbacks == 8
    assert "timed out" in caplog.text


def test_server_errors_are_retried_then_fall_back(server: FakeLLMServer) -> None:
    server.set_mode("error")
    refined, stats = refiner_for(server.url, max_retries=2).refine(TEXTS, unsure(len(TEXTS)))
    assert len(server.requests) == 3
    assert_fallback(refined, "endpoint_unavailable")
    assert stats.fallback_reasons == {"endpoint_unavailable": len(TEXTS)}


def test_dead_endpoint_falls_back_without_hanging() -> None:
    refined, stats = refiner_for(dead_url(), max_retries=1, batch_size=2).refine(
        TEXTS, unsure(len(TEXTS))
    )
    assert_fallback(refined, "endpoint_unavailable")
    assert stats.requests == 1 and stats.fallbacks == len(TEXTS)


def test_client_raises_llm_error_with_a_hint_on_dead_endpoint() -> None:
    with pytest.raises(LLMError) as caught:
        client_for(dead_url(), max_retries=0).chat([{"role": "user", "content": "x"}], {}, 10)
    assert "unreachable" in caught.value.message and "STACKATLAS_LLM_URL" in caught.value.hint


# --- rate limits ----------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds() -> None:
    waits: list[float] = []
    with FakeLLMServer(mode="rate_limited", rate_limit_count=2, retry_after=7) as server:
        client = client_for(server.url, max_retries=3, sleep=waits.append)
        result = client.chat(prompts.build_messages(TEXTS[:1], []), prompts.answer_schema(), 99)
    assert waits == [7.0, 7.0]
    assert json.loads(result.content)["answers"][0]["id"] == 1
    assert result.usage_reported and result.total_tokens > 0


def test_429_with_a_real_wait_through_the_refiner() -> None:
    with FakeLLMServer(mode="rate_limited", rate_limit_count=1, retry_after=0.2) as server:
        refined, stats = refiner_for(server.url).refine(TEXTS, unsure(len(TEXTS)))
        times = [r["received_at"] for r in server.requests]
    assert len(times) == 2 and times[1] - times[0] >= 0.2
    assert all(p.method == "llm" for p in refined) and stats.requests == 1


def test_429_asking_for_too_long_a_wait_falls_back() -> None:
    waits: list[float] = []
    with FakeLLMServer(mode="rate_limited", rate_limit_count=5, retry_after=3600) as server:
        refiner = LLMRefiner(
            client_for(server.url, max_wait=60, sleep=waits.append), EXAMPLES, InMemoryLLMCache()
        )
        refined, _ = refiner.refine(TEXTS, unsure(len(TEXTS)))
    assert waits == [] and len(server.requests) == 1
    assert_fallback(refined, "endpoint_unavailable")


@pytest.mark.parametrize(
    ("header", "expected"), [("12", 12.0), ("0.5", 0.5), ("-3", 0.0), (None, None), ("soon", None)]
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait


# --- budget ---------------------------------------------------------------------------------


def test_request_budget_stops_sending_and_flags_the_rest(server: FakeLLMServer) -> None:
    refined, stats = refiner_for(server.url, batch_size=2, max_requests=2).refine(
        TEXTS, unsure(len(TEXTS))
    )
    assert len(server.requests) == 2 == stats.requests
    assert [p.method for p in refined] == ["llm"] * 4 + ["model"] * 4
    assert_fallback(refined[4:], "budget_exhausted")
    assert stats.budget_exhausted and stats.fallback_reasons == {"budget_exhausted": 4}


def test_token_budget_stops_before_overspending(server: FakeLLMServer) -> None:
    _, first = refiner_for(server.url, batch_size=2).refine(TEXTS[:2], unsure(2))
    budget = first.total_tokens * 2 + 10  # room for about two requests of this size
    server.requests.clear()
    refined, stats = refiner_for(server.url, batch_size=2, max_tokens=budget).refine(
        TEXTS, unsure(len(TEXTS))
    )
    assert stats.total_tokens <= budget
    assert 1 <= stats.requests < 4 and stats.budget_exhausted
    assert sum(p.method == "model" for p in refined) == stats.fallback_reasons["budget_exhausted"]


def test_zero_budget_sends_nothing(server: FakeLLMServer) -> None:
    refined, stats = refiner_for(server.url, max_requests=0).refine(TEXTS, unsure(len(TEXTS)))
    assert server.requests == [] and stats.requests == 0
    assert_fallback(refined, "budget_exhausted")


# --- response formats -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 422])
def test_rejected_json_schema_falls_back_to_json_mode(server: FakeLLMServer, status: int) -> None:
    server.state.reject_json_schema = True
    server.state.reject_status = status
    refiner = refiner_for(server.url)
    refined, stats = refiner.refine(TEXTS, unsure(len(TEXTS)))
    formats = [r["body"]["response_format"]["type"] for r in server.requests]
    assert formats == ["json_schema", "json_object"]
    assert refiner.client.response_format == FORMAT_JSON_OBJECT
    assert all(p.method == "llm" for p in refined) and stats.requests == 1
    # JSON mode carries the bounded schema a grammar-compiling server (llama.cpp) holds to
    strict, json_mode = (r["body"]["response_format"] for r in server.requests)
    assert strict["json_schema"]["schema"] == prompts.answer_schema()
    bounded = json_mode["schema"]
    assert bounded == prompts.bounded_answer_schema(len(TEXTS))


def _answer(position: int, **changes: object) -> dict[str, object]:
    answer = {"id": position, "category": "models", "subcategory": "language",
              "confidence": 0.7, "rationale": "Releases the weights of one model family."}
    return {**answer, **changes}


def test_bounded_schema_holds_each_answer_to_its_place_and_size() -> None:
    bounded = prompts.bounded_answer_schema(2)
    jsonschema.validate({"answers": [_answer(1), _answer(2, subcategory=None)]}, bounded)
    jsonschema.validate({"answers": [_answer(1), _answer(2)]}, prompts.answer_schema())
    wrong = [
        [_answer(1)],  # one answer short
        [_answer(1), _answer(1)],  # the same repository twice
        [_answer(1), _answer(2), _answer(3)],
        [_answer(1), _answer(2, confidence=0.95)],  # one decimal only: fewer tokens
        [_answer(1), _answer(2, subcategory="quantum")],
        [_answer(1), _answer(2, rationale="x" * (prompts.RATIONALE_CHARS + 1))],
        [_answer(1), {**_answer(2), "full_name": "acme/tuner"}],  # nothing beyond the five keys
    ]
    for answers in wrong:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"answers": answers}, bounded)


def test_bounded_schema_compiles_into_a_llama_cpp_grammar() -> None:
    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = grammar.json_schema_to_gbnf(json.dumps(prompts.bounded_answer_schema(3)))
    # one rule per answer, each with its id fixed; the confidence is a choice of eleven
    assert [line.split(" ::= ")[1] for line in gbnf.splitlines()
            if "-id ::= " in line] == ['"1"', '"2"', '"3"']
    assert '"0.0" | "0.1"' in gbnf and "number" not in gbnf


def test_format_steps_down_to_a_plain_prompt() -> None:
    seen: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body.get("response_format", {}).get("type"))
        if "response_format" in body:
            return httpx.Response(400, json={"error": {"message": "no response_format"}})
        content = '```json\n{"answers": [{"id": 1, "category": "lists"}]}\n```'
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    client = client_for("http://llm.test/v1", transport=httpx.MockTransport(handler))
    result = client.chat([{"role": "user", "content": "x" * 400}], {}, 50)
    assert seen == [FORMAT_JSON_SCHEMA, FORMAT_JSON_OBJECT, None]
    assert client.response_format == FORMAT_PLAIN
    assert not result.usage_reported and result.prompt_tokens > 50  # estimated from the request
    assert parse_answer_rows(result.content) == [{"id": 1, "category": "lists"}]


def test_a_500_naming_response_format_steps_down_without_retrying() -> None:
    """llama-cpp-python's server answers an unsupported response_format with a 500."""
    seen: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body["response_format"]["type"])
        if body["response_format"]["type"] == "json_schema":
            detail = "('body', 'response_format', 'type'): Input should be 'text' or 'json_object'"
            return httpx.Response(500, json={"error": {"message": detail}})
        content = json.dumps({"answers": [{"id": 1, "category": "lists"}]})
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    client = client_for("http://llm.test/v1", transport=httpx.MockTransport(handler))
    client.chat([{"role": "user", "content": "x"}], {"type": "object"}, 50)
    assert seen == [FORMAT_JSON_SCHEMA, FORMAT_JSON_OBJECT]


def test_bad_credentials_are_not_retried() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    client = client_for("http://llm.test/v1", transport=httpx.MockTransport(handler))
    with pytest.raises(LLMError, match="credentials") as caught:
        client.chat([{"role": "user", "content": "x"}], {}, 10)
    assert len(calls) == 1 and "STACKATLAS_LLM_API_KEY" in caught.value.hint


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        '{"answers": [{"id": 1, "category": "lists"}]}',
        '[{"id": 1, "category": "lists"}]',
        '{"id": 1, "category": "lists"}',
        'Sure! Here it is: {"answers": [{"id": 1, "category": "lists"}]} Hope it helps.',
    ],
)
def test_parse_answer_rows_accepts_common_shapes(content: str) -> None:
    assert parse_answer_rows(content) == [{"id": 1, "category": "lists"}]


@pytest.mark.parametrize("content", ["", "not json", '{"answers": "none"}', '{"id": 1'])
def test_parse_answer_rows_rejects_junk(content: str) -> None:
    with pytest.raises(MalformedAnswerError):
        parse_answer_rows(content)


def test_match_rows_by_name_then_id_ignoring_strays() -> None:
    batch = TEXTS[:3]
    rows = [
        {"id": 3, "full_name": "ACME/Tuner", "category": "a"},  # the name wins over a wrong id
        {"id": 1, "category": "b"},
        {"id": 9, "category": "c"},  # out of range
        {"id": 1, "category": "d"},  # a second answer for the same repository
    ]
    assert match_rows(rows, batch) == {1: rows[0], 0: rows[1]}


def test_missing_answers_fall_back_one_by_one() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        content = json.dumps({"answers": [{"id": 2, "category": "tutorials", "confidence": 80}]})
        usage = {"prompt_tokens": 100, "completion_tokens": 20}
        return httpx.Response(
            200, json={"choices": [{"message": {"content": content}}], "usage": usage}
        )

    client = client_for("http://llm.test/v1", transport=httpx.MockTransport(handler))
    refiner = LLMRefiner(client, EXAMPLES, InMemoryLLMCache())
    refined, stats = refiner.refine(TEXTS[:3], unsure(3))
    assert [p.method for p in refined] == ["model", "llm", "model"]
    assert refined[1].category == "tutorials" and refined[1].confidence == 0.8
    assert stats.fallback_reasons == {"missing_answer": 2} and stats.total_tokens == 120


def test_read_answer_normalises_and_validates() -> None:
    answer = read_answer(
        {
            "category": " Infrastructure ",
            "subcategory": "VectorDB",
            "confidence": "0.7",
            "rationale": "  stores\nvectors  ",
        }
    )
    assert (answer.category, answer.subcategory) == ("infrastructure", "vector database")
    assert (answer.confidence, answer.rationale) == (0.7, "stores vectors")
    assert read_answer({"category": "lists", "confidence": None}).confidence == 0.5


# --- few-shot, settings, logging ------------------------------------------------------------


def test_few_shot_picks_the_nearest_examples_in_turns() -> None:
    index = FewShotIndex(EXAMPLES, k=2)
    nearest = index.nearest([TEXTS[1], TEXTS[2]])  # fine-tuning, vector database
    assert [e.full_name for e in nearest] == ["ex/peft-like", "ex/vector-db"]
    assert FewShotIndex([], k=3).nearest(TEXTS) == []


def test_few_shot_never_offers_the_repository_itself() -> None:
    same = RepoText("ex/awesome-llm", "A curated list of LLM resources")
    assert "ex/awesome-llm" not in [e.full_name for e in FewShotIndex(EXAMPLES).nearest([same])]


def test_from_settings_needs_a_url() -> None:
    assert LLMRefiner.from_settings(Settings(), EXAMPLES, InMemoryLLMCache()) is None
    settings = Settings(
        llm_url="http://127.0.0.1:9/v1",
        llm_model="m",
        llm_api_key=API_KEY,
        llm_threshold=0.4,
        llm_batch_size=7,
        llm_max_requests=3,
    )
    refiner = LLMRefiner.from_settings(settings, EXAMPLES, InMemoryLLMCache())
    assert refiner is not None
    assert (refiner.threshold, refiner.batch_size, refiner.max_requests) == (0.4, 7, 3)
    assert refiner.client.model == "m" and API_KEY not in repr(refiner.client)


def test_prompts_and_answers_are_logged_but_never_the_key(
    server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        refiner_for(server.url).refine(TEXTS[:2], unsure(2))
    assert f"prompt {prompts.PROMPT_VERSION}" in caplog.text
    assert "acme/awesome-agents" in caplog.text and "The fake server chose" in caplog.text
    assert API_KEY not in caplog.text


def test_refine_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="predictions"):
        refiner_for(dead_url()).refine(TEXTS, unsure(2))


# --- what goes first ------------------------------------------------------------------------


def test_count_priority_puts_doubt_in_small_categories_first() -> None:
    predictions = [
        prediction(0.5, "applications"),  # big category: one error moves its count little
        prediction(0.5, "applications"),
        prediction(0.5, "applications"),
        prediction(0.5, "infrastructure"),  # alone in its category: same doubt, more weight
        prediction(0.1, "applications"),  # more doubt beats a bigger category
        prediction(0.55, "other"),  # outside the counts: weighs as the mean counted category
    ]
    # weights: applications 1/4, infrastructure 1, the three empty counted categories 1 each,
    # so "other" weighs (1/4 + 4) / 5 = 0.85; worth = (1 − confidence) × weight
    # → 0.125, 0.125, 0.125, 0.5, 0.225, 0.3825 (ties keep their order)
    assert count_priority(predictions, range(len(predictions))) == [3, 5, 4, 0, 1, 2]
    assert count_priority(predictions, [2, 0]) == [2, 0]


def test_a_budget_goes_to_the_most_important_doubts(server: FakeLLMServer) -> None:
    predictions = [prediction(0.5, "applications") for _ in TEXTS]
    predictions[6] = prediction(0.05, "model-development")  # the most worth asking about
    refined, stats = refiner_for(server.url, batch_size=1, max_requests=1).refine(
        TEXTS, predictions)
    assert stats.requests == 1 and "acme/quant" in user_prompts(server)[0].split("classify")[1]
    assert refined[6].method == "llm"
    assert_fallback([p for i, p in enumerate(refined) if i != 6], "budget_exhausted")
