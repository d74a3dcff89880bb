"""Shared fixtures: a clean environment and throwaway warehouses."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from stackatlas.settings import Settings, get_settings
from warehouse.db import connect

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees a real token, key or the developer's .env; settings are re-read per test."""
    for name in list(os.environ):
        if name.startswith("STACKATLAS_") or name in {"GITHUB_TOKEN", "OPENAI_API_KEY"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STACKATLAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setitem(Settings.model_config, "env_file", None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """A command run in process configures the root logger: undo it after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def con(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(db_path)
    yield connection
    connection.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA


@pytest.fixture(scope="session")
def trained_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the classifier trained once per session (copy its ``models``)."""
    from tests.service_harness import train_once

    return train_once(tmp_path_factory.mktemp("trained"))
