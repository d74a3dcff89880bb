from __future__ import annotations

import re

import pytest

from stackatlas.settings import Settings
from tests.conftest import PROJECT_ROOT


def documented_names() -> set[str]:
    text = (PROJECT_ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z0-9_]+)=", text, flags=re.MULTILINE))


def setting_env_names() -> set[str]:
    names = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            names.add(str(alias.choices[0]))
        else:
            names.add(f"STACKATLAS_{field_name.upper()}")
    return names


def test_every_setting_is_documented_in_env_example() -> None:
    missing = setting_env_names() - documented_names()
    assert not missing, f"settings missing from .env.example: {sorted(missing)}"


def test_env_example_names_only_real_settings() -> None:
    unknown = documented_names() - setting_env_names()
    assert not unknown, f".env.example documents unknown settings: {sorted(unknown)}"


def test_token_reads_plain_github_token_and_hides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_marker")
    settings = Settings()
    assert settings.github_token_value() == "ghp_secret_marker"
    assert "ghp_secret_marker" not in repr(settings)
    assert "ghp_secret_marker" not in str(settings.model_dump())


def test_db_path_defaults_into_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKATLAS_DATA_DIR", "somewhere")
    assert str(Settings().db_path) == "somewhere/stackatlas.duckdb"
    monkeypatch.setenv("STACKATLAS_DB", "x.duckdb")
    assert str(Settings().db_path) == "x.duckdb"
