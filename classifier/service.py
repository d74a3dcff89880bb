"""Classifying the warehouse: label every repository without an up-to-date machine label.

A label is up to date when it was given for the repository's current text (text hash), by the
current model version under the current taxonomy version. Anything else is reclassified; earlier
labels stay in the history. Human labels are never replaced, and they train the next model.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from classifier import estimation, taxonomy
from classifier.labels import LabeledRepo, RepoText, load_seed_labels
from classifier.llm import FLAG_FALLBACK
from classifier.model import Prediction, TrainedModel, load_model, train_model
from stackatlas.settings import Settings
from warehouse.db import fetch_dicts, transaction
from warehouse.estimates import EstimateRun
from warehouse.labels import LabelRecord, human_labels, insert_labels

log = logging.getLogger(__name__)

# When the warehouse's estimated AI share has moved further than this since the last run, every
# repository is labelled again, so that all labels were decided for (about) the same population.
SHARE_TOLERANCE = 0.05


@dataclass
class ClassifyResult:
    model_version: str
    candidates: int = 0
    labelled: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    llm_requests: int = 0
    llm_tokens: int = 0
    llm_fallbacks: int = 0
    retrained: bool = False
    ai_prior: float | None = None
    share_moved_from: float | None = None  # set (with share_moved) when the AI share moved
    share_moved: bool = False

    def summary_line(self) -> str:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(self.by_method.items())) or "none"
        return (
            f"{self.labelled} of {self.candidates} repositories labelled ({methods}); "
            f"model {self.model_version}{' (retrained)' if self.retrained else ''}; "
            f"LLM requests {self.llm_requests}, tokens {self.llm_tokens}, "
            f"fallbacks {self.llm_fallbacks}; AI share {_share(self.ai_prior)}"
            + (f" (was {_share(self.share_moved_from)}: every repository relabelled)"
               if self.share_moved else "")
        )


def _share(prior: float | None) -> str:
    return "not estimated" if prior is None else f"{prior:.0%}"


def models_dir(settings: Settings) -> Path:
    return settings.data_dir / "models"


def training_labels(con: duckdb.DuckDBPyConnection) -> list[LabeledRepo]:
    """Seed labels plus every human override in the warehouse (overrides win on a clash)."""
    by_name = {label.full_name.lower(): label for label in load_seed_labels()}
    for row in human_labels(con):
        label = LabeledRepo(
            **_text_fields(row),
            layer=row["layer"],
            category=row["category"],
            subcategory=row["subcategory"] or "",
            source="human-override",
        )
        by_name[label.full_name.lower()] = label
    return list(by_name.values())


def current_model(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, retrain: bool = False
) -> tuple[TrainedModel, bool]:
    """The saved model if it was trained on today's training labels; else train and save one."""
    labels = training_labels(con)
    directory = models_dir(settings)
    if not retrain:
        model = load_model(directory)
        if model is not None and model.trained_on(labels):
            return model, False
    model = train_model(labels)
    model.save(directory)
    log.info("trained model %s on %d labels", model.version, len(labels))
    return model, True


def stale_repositories(
    con: duckdb.DuckDBPyConnection,
    model_version: str,
    *,
    everything: bool = False,
    llm_threshold: float | None = None,
) -> list[dict[str, Any]]:
    """Active repositories whose newest machine label is missing or out of date (or all active
    repositories, with ``everything``).

    With ``llm_threshold`` (a run with the LLM stage), also those whose newest machine label is
    a model or rules label below that confidence that the LLM has not answered: labelled without
    the LLM (no flags), or flagged as a fallback (endpoint down, budget spent, junk answer).
    """
    return fetch_dicts(
        con,
        """
        WITH machine AS (
            SELECT * FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY repo_id ORDER BY created_at DESC, id DESC) AS rn
                FROM classifications WHERE method IN ('model', 'rules', 'llm')
            ) WHERE rn = 1
        )
        SELECT r.id, r.full_name, r.description, r.language, r.topics, r.stars,
               r.created_at, r.readme_excerpt, r.text_hash
        FROM repositories r LEFT JOIN machine m ON m.repo_id = r.id
        WHERE r.status = 'active' AND (
            $everything OR m.repo_id IS NULL OR m.text_hash IS DISTINCT FROM r.text_hash
            OR m.taxonomy_version <> $taxonomy
            OR (m.method <> 'llm' AND m.model_version IS DISTINCT FROM $model)
            OR ($threshold IS NOT NULL AND m.method <> 'llm' AND m.confidence < $threshold
                AND (m.flags IS NULL OR contains(m.flags, $fallback)))
        )
        ORDER BY r.id
        """,
        {"taxonomy": taxonomy.TAXONOMY_VERSION, "model": model_version,
         "everything": everything, "threshold": llm_threshold, "fallback": FLAG_FALLBACK},
    )


def active_texts(con: duckdb.DuckDBPyConnection) -> list[RepoText]:
    """What the classifier reads of every active repository (the population of the warehouse)."""
    rows = fetch_dicts(con, """
        SELECT full_name, description, language, topics, stars, created_at, readme_excerpt
        FROM repositories WHERE status = 'active' ORDER BY id
    """)
    return [as_text(row) for row in rows]


def _text_fields(row: dict[str, Any]) -> dict[str, Any]:
    """What the classifier reads, from a warehouse row of the repositories table."""
    return {
        "full_name": row["full_name"],
        "description": row["description"] or "",
        "language": row["language"] or "",
        "topics": list(row["topics"] or []),
        "readme": row["readme_excerpt"] or "",
        "stars": row["stars"],
        "created_at": str(row["created_at"] or "")[:10],
    }


def as_text(row: dict[str, Any]) -> RepoText:
    return RepoText(**_text_fields(row))


def classify_repositories(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    use_llm: bool | None = None,
    retrain: bool = False,
    at: datetime | None = None,
) -> ClassifyResult:
    """Label the repositories that need it, record the run and return what it did and cost."""
    model, retrained = current_model(con, settings, retrain=retrain)
    # The AI share of the whole warehouse, not of the batch: a run that reclassifies a handful
    # of changed repositories judges them against the same population as the first full run.
    ai_prior = model.estimate_ai_prior(active_texts(con))
    found, previous = _previous_share(con)
    moved = found and _share_moved(previous, ai_prior)
    refiner = _refiner(con, settings, use_llm)
    with refiner or nullcontext():
        rows = stale_repositories(con, model.version, everything=moved,
                                  llm_threshold=refiner.threshold if refiner else None)
        result = ClassifyResult(model.version, candidates=len(rows), retrained=retrained,
                                ai_prior=ai_prior, share_moved=moved,
                                share_moved_from=previous if moved else None)
        if not rows:
            return result
        if moved:
            log.info("AI share moved from %s to %s: labelling every repository again",
                     _share(previous), _share(ai_prior))
        texts = [as_text(row) for row in rows]
        predictions = model.predict(texts, ai_prior=ai_prior)
        if refiner is not None:
            predictions, stats = refiner.refine(texts, predictions)
            result.llm_requests, result.llm_tokens = stats.requests, stats.total_tokens
            result.llm_fallbacks = stats.fallbacks
    when = at or datetime.now()
    labels = [_label(row, p, when) for row, p in zip(rows, predictions, strict=True)]
    for label in labels:
        result.by_method[label.method] = result.by_method.get(label.method, 0) + 1
    # The labels and the run that gave them commit together: a run killed before the commit
    # leaves nothing behind, and the next run labels the same repositories.
    with transaction(con):
        result.labelled = insert_labels(con, labels)
        _record_run(con, result, at or datetime.now())
    return result


def _previous_share(con: duckdb.DuckDBPyConnection) -> tuple[bool, float | None]:
    """Whether a classification run was recorded, and the AI share the newest one assumed."""
    row = con.execute(
        "SELECT ai_prior FROM classification_runs ORDER BY id DESC LIMIT 1").fetchone()
    return (False, None) if row is None else (True, row[0])


def _share_moved(before: float | None, now: float | None) -> bool:
    if before is None or now is None:
        return (before is None) != (now is None)  # estimated now and not then, or the reverse
    return abs(now - before) > SHARE_TOLERANCE


def _refiner(con: duckdb.DuckDBPyConnection, settings: Settings, use_llm: bool | None) -> Any:
    if use_llm is False or (use_llm is None and not settings.llm_url):
        return None
    from classifier.llm import LLMRefiner
    from classifier.llm_cache import DuckDBLLMCache

    return LLMRefiner.required(settings, training_labels(con), DuckDBLLMCache(con))


def _label(row: dict[str, Any], prediction: Prediction, at: datetime) -> LabelRecord:
    return LabelRecord(
        repo_id=row["id"],
        layer=prediction.layer,
        category=prediction.category,
        subcategory=prediction.subcategory or None,
        confidence=prediction.confidence,
        method=prediction.method,
        model_version=prediction.model_version,
        prompt_version=getattr(prediction, "prompt_version", None),
        taxonomy_version=taxonomy.TAXONOMY_VERSION,
        rationale=prediction.rationale,
        text_hash=row["text_hash"],
        flags=getattr(prediction, "flags", None),
        created_at=at,
    )


def _record_run(con: duckdb.DuckDBPyConnection, result: ClassifyResult, at: datetime) -> None:
    query = "SELECT coalesce(max(id), 0) + 1 FROM classification_runs"
    (next_id,) = con.execute(query).fetchall()[0]
    con.execute(
        """
        INSERT INTO classification_runs (id, started_at, finished_at, model_version,
            taxonomy_version, repos_classified, llm_requests, llm_tokens, llm_failures, ai_prior)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [next_id, at, datetime.now(), result.model_version, taxonomy.TAXONOMY_VERSION,
         result.labelled, result.llm_requests, result.llm_tokens, result.llm_fallbacks,
         result.ai_prior],
    )


def refresh_estimates(
    con: duckdb.DuckDBPyConnection, settings: Settings, *, at: datetime | None = None
) -> EstimateRun | None:
    """Estimate the true counts per month and category of the warehouse with the current model
    and store them (``classifier/estimation.py``): run after each classification run. The first
    run of a model version cross-validates its training labels (a few trainings)."""
    model, _ = current_model(con, settings)
    validation = estimation.model_validation(model, training_labels(con), models_dir(settings))
    rows = estimation.population_rows(con)
    return estimation.estimate_and_store(
        con, model, validation, rows, [as_text(row) for row in rows], at=at)
