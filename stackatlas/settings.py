"""The one settings object of stackatlas.

Every field reads from the environment (prefix ``STACKATLAS_``; the GitHub token also from plain
``GITHUB_TOKEN``) or from a ``.env`` file in the working directory. Every field is documented in
``.env.example``; a test fails when one is not. Secrets are ``SecretStr`` so that they never
appear in a repr, a log line or the database.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stackatlas.errors import ConfigError

GITHUB_API_URL = "https://api.github.com"
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
"""What a token may hold to travel in an HTTP header: visible ASCII, no space or line break."""


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STACKATLAS_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # a rejected secret must not be echoed in the error
    )

    # Storage
    data_dir: Path = Field(Path("data"), description="Folder for the database, models and caches.")
    db: Path | None = Field(None, description="DuckDB file; default <data_dir>/stackatlas.duckdb.")
    log_level: str = Field("INFO", description="Logging level: DEBUG, INFO, WARNING, ERROR.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as text, or one JSON object per line."
    )

    # Crawling
    github_token: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("GITHUB_TOKEN", "STACKATLAS_GITHUB_TOKEN"),
        description="GitHub token; when set, the main job crawls the real GitHub.",
    )
    api_url: str = Field(GITHUB_API_URL, description="Base URL of the GitHub REST API.")
    min_stars: int = Field(500, ge=1, description="Star threshold of the crawl.")
    http_timeout: float = Field(30.0, gt=0, description="Seconds before an HTTP request times out.")
    max_retries: int = Field(6, ge=0, description="Retries of one request on 5xx and timeouts.")
    max_wait: float = Field(
        3900.0, ge=0, description="Longest wait in seconds for a rate-limit reset before failing."
    )
    fetch_readme: bool = Field(True, description="Fetch README excerpts during a crawl.")
    star_history: bool = Field(False, description="Fetch the date each repo crossed 500 stars.")
    queries_file: Path | None = Field(None, description="TOML file of search queries.")

    # Classification
    llm_url: str | None = Field(None, description="OpenAI-compatible base URL (…/v1).")
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(None, description="API key of the LLM endpoint.")
    llm_threshold: float = Field(
        0.6, ge=0, le=1, description="Model confidence below which the LLM is asked."
    )
    llm_batch_size: int = Field(10, ge=1, description="Repositories per LLM request.")
    llm_max_requests: int = Field(200, ge=0, description="LLM request budget per run.")
    llm_max_tokens: int = Field(400_000, ge=0, description="LLM token budget per run.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM request times out.")

    # Serving
    host: str = Field("127.0.0.1", description="Address the API server binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port the API server binds.")
    api_key: SecretStr | None = Field(
        None, description="Key that write endpoints require (X-API-Key header)."
    )
    ready_max_age_hours: float = Field(
        36.0,
        ge=0,
        description="/readyz answers 503 when the last successful crawl is older (0: no limit).",
    )

    @field_validator("github_token", "llm_api_key", "api_key", mode="before")
    @classmethod
    def _clean_secret(cls, value: object) -> object:
        """Strip the blank space a paste leaves around a secret; refuse what a header cannot
        carry. Empty means unset."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        stripped = raw.strip()
        if not stripped:
            return None
        if not _HEADER_SAFE.fullmatch(stripped):
            raise ValueError(
                "holds a space, line break or non-ASCII character inside; copy it again"
            )
        return stripped
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed to call the API from a browser, or *."
    )
    cache_max_age: int = Field(
        60, ge=0, description="Seconds clients may reuse a live (not release-pinned) answer."
    )

    # Schedule (`stackatlas serve`; cron expressions: minute hour day month weekday, in UTC)
    schedule: bool = Field(True, description="Run the scheduler inside `stackatlas serve`.")
    crawl_all_500: bool = Field(
        False, description="Scheduled crawls enumerate every repository above the threshold."
    )
    discovery_cron: str = Field("0 3 * * *", description="When the discovery crawl runs.")
    stars_cron: str = Field("0 */6 * * *", description="When the star refresh runs.")
    readme_cron: str = Field("0 4 * * 0", description="When READMEs are revalidated.")
    readme_max_age_days: float = Field(
        6.0, gt=0, description="README revalidation asks again for READMEs checked longer ago."
    )
    misfire_grace: int = Field(
        3600, ge=1, description="Seconds a missed scheduled run may still start late."
    )
    stop_timeout: float = Field(
        8.0, gt=0, description="Seconds a stopping server waits for a job to checkpoint."
    )

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"use one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("discovery_cron", "stars_cron", "readme_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"not a cron expression ({exc}); e.g. '0 3 * * *'") from exc
        return value

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.data_dir / "stackatlas.duckdb"

    def github_token_value(self) -> str | None:
        return self.github_token.get_secret_value() if self.github_token else None

    def secret_values(self) -> list[str]:
        """The secrets in force, for the log redactor."""
        secrets = (self.github_token, self.llm_api_key, self.api_key)
        return [s.get_secret_value() for s in secrets if s is not None]


def load_settings() -> Settings:
    """The settings from the environment; a bad value is a ConfigError naming the setting."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"invalid setting ({problems})", "fix it in the environment or .env (see .env.example)"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
