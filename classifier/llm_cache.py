"""The cache of LLM answers, keyed by (repository text hash, prompt version, model).

A rerun over unchanged repositories with the same prompt and model costs no request. Two
implementations share one small interface: ``InMemoryLLMCache`` for tests and one-off runs, and
``DuckDBLLMCache`` over the warehouse table ``llm_cache``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb
import polars as pl

Answer = dict[str, Any]


class LLMCache(Protocol):
    """Answers of the LLM per repository text; only valid answers are stored."""

    def get_many(
        self, text_hashes: Iterable[str], prompt_version: str, model: str
    ) -> dict[str, Answer]:
        """The cached answers among ``text_hashes`` (missing ones are absent from the result)."""
        ...

    def put_many(self, answers: Mapping[str, Answer], prompt_version: str, model: str) -> None:
        """Store answers by text hash; a later answer for the same key replaces the earlier."""
        ...


class InMemoryLLMCache:
    """A dictionary-backed cache that lives as long as the object."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str, str], Answer] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def get_many(
        self, text_hashes: Iterable[str], prompt_version: str, model: str
    ) -> dict[str, Answer]:
        found: dict[str, Answer] = {}
        for text_hash in text_hashes:
            answer = self._answers.get((text_hash, prompt_version, model))
            if answer is not None:
                found[text_hash] = dict(answer)
        return found

    def put_many(self, answers: Mapping[str, Answer], prompt_version: str, model: str) -> None:
        for text_hash, answer in answers.items():
            self._answers[(text_hash, prompt_version, model)] = dict(answer)


class DuckDBLLMCache:
    """The cache over the warehouse table ``llm_cache`` (created by the warehouse migrations)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def get_many(
        self, text_hashes: Iterable[str], prompt_version: str, model: str
    ) -> dict[str, Answer]:
        wanted = sorted(set(text_hashes))
        if not wanted:
            return {}
        rows = self._con.execute(
            """
            SELECT text_hash, answer FROM llm_cache
            WHERE prompt_version = ? AND model = ? AND list_contains(?, text_hash)
            """,
            [prompt_version, model, wanted],
        ).fetchall()
        return {text_hash: json.loads(answer) for text_hash, answer in rows}

    def put_many(self, answers: Mapping[str, Answer], prompt_version: str, model: str) -> None:
        if not answers:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        frame = pl.DataFrame(  # noqa: F841 - scanned by DuckDB below
            {
                "text_hash": list(answers),
                "answer": [json.dumps(answer, sort_keys=True) for answer in answers.values()],
            },
            schema={"text_hash": pl.String, "answer": pl.String},
        )
        self._con.execute(
            """
            INSERT INTO llm_cache (text_hash, prompt_version, model, answer, created_at)
            SELECT text_hash, $prompt_version, $model, answer::JSON, $now FROM frame
            ON CONFLICT (text_hash, prompt_version, model) DO UPDATE SET
                answer = excluded.answer, created_at = excluded.created_at
            """,
            {"prompt_version": prompt_version, "model": model, "now": now},
        )
