"""`stackatlas classifier train|eval`: train and save the model, or score it against gold labels."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from classifier.evaluate import EvalReport, evaluate, remove_gold
from classifier.labels import LabeledRepo, load_seed_labels, read_labels, read_labels_files
from classifier.model import train_model
from stackatlas.errors import ConfigError
from stackatlas.present import console
from stackatlas.settings import get_settings

log = logging.getLogger(__name__)


app = typer.Typer(help="Train and evaluate the classifier.", no_args_is_help=True)

LabelFiles = Annotated[
    list[Path] | None,
    typer.Option("--labels", "--train", help="Labels file (TSV); repeat for several."),
]
SeedsOption = Annotated[
    bool, typer.Option("--seeds/--no-seeds", help="Also train on the bundled seed labels.")
]


def training_labels(files: list[Path] | None, seeds: bool) -> list[LabeledRepo]:
    """Seed labels (unless switched off) plus the given files; later files win on a clash."""
    by_name = {label.full_name.lower(): label for label in (load_seed_labels() if seeds else [])}
    for label in read_labels_files(files or []):
        by_name[label.full_name.lower()] = label
    if not by_name:
        raise ConfigError("no training labels", "pass --train FILE or keep --seeds")
    return list(by_name.values())


@app.command("train")
def train(
    labels: LabelFiles = None,
    seeds: SeedsOption = True,
    out: Annotated[
        Path | None, typer.Option("--out", help="Models folder (default <data_dir>/models).")
    ] = None,
) -> None:
    """Train the classifier on labels files (and the seed labels) and save the artifact."""
    training = training_labels(labels, seeds)
    model = train_model(training)
    folder = model.save(out or get_settings().data_dir / "models")
    console.print(f"model [bold]{model.version}[/] saved to {folder}")
    counts = model.metadata["label_counts"]
    table = Table("category", "labels")
    for category, count in counts.items():
        table.add_row(category, str(count))
    console.print(table)
    console.print(f"{len(training)} labels; is-AI stage: {'yes' if model.ai_stage else 'no'}")


SHORT_NAMES = {
    "applications": "apps",
    "app-development": "app-dev",
    "model-development": "model-dev",
    "infrastructure": "infra",
    "tutorials": "tutorial",
}


def _refiner(training: list[LabeledRepo]) -> Any:
    from classifier.llm import LLMRefiner
    from classifier.llm_cache import InMemoryLLMCache

    return LLMRefiner.required(get_settings(), training, InMemoryLLMCache())


def _share(prior: float | None) -> str:
    return "none (the training share, half AI)" if prior is None else f"{prior:.3f}"


def parse_ai_prior(value: str) -> float | Literal["batch"] | None:
    """'batch', 'none' or a share between 0 and 1."""
    lowered = value.strip().lower()
    if lowered in ("batch", "none"):
        return "batch" if lowered == "batch" else None
    try:
        share = float(lowered)
    except ValueError:
        share = -1.0
    if not 0.0 < share < 1.0:
        raise ConfigError(f"--ai-prior {value!r} is not 'batch', 'none' or a share in (0, 1)",
                          "for example --ai-prior batch or --ai-prior 0.1")
    return share


def _print_report(report: EvalReport) -> None:
    console.print(f"removed {report.removed_from_training} gold repositories from training "
                  f"({report.training} training labels left); gold: {report.gold}")
    summary = Table("measure", "value")
    for name in ("layer_accuracy", "category_accuracy", "macro_f1", "ai_precision", "ai_recall",
                 "llm_share"):
        summary.add_row(name.replace("_", " "), f"{getattr(report, name):.3f}")
    summary.add_row("llm requests", str(report.llm_requests))
    summary.add_row("llm tokens", str(report.llm_tokens))
    summary.add_row("repos per second", f"{report.repos_per_second:,.0f}")
    summary.add_row("AI share assumed", _share(report.ai_prior))
    summary.add_row("model version", report.model_version)
    console.print(summary)
    short = [SHORT_NAMES.get(label, label) for label in report.confusion_labels]
    confusion = Table("gold \\ predicted", *short, title="confusion matrix (rows: gold)")
    for label, row in zip(short, report.confusion, strict=True):
        confusion.add_row(label, *(str(n) for n in row))
    console.print(confusion)
    _print_counts(report)


def _print_counts(report: EvalReport) -> None:
    estimated = report.count_error_mean is not None
    columns = ["category", "gold", "labelled"] + (["estimated", "90% interval"] if estimated
                                                  else [])
    table = Table(*columns, title=f"counts (estimated: {report.count_method or 'not made'})")
    for category, counts in report.counts.items():
        cells = [category, f"{counts['gold']:.0f}", f"{counts['labelled']:.0f}"]
        if estimated:
            cells += [f"{counts['estimated']:.1f}", f"{counts['lo']:.0f}–{counts['hi']:.0f}"]
        table.add_row(*cells)
    console.print(table)
    line = (f"count error over the AI categories, labelled: mean "
            f"{report.labelled_count_error_mean:.3f}, worst {report.labelled_count_error_max:.3f}")
    if estimated:
        line += (f"; estimated: mean {report.count_error_mean:.3f}, "
                 f"worst {report.count_error_max:.3f}")
    console.print(line)


@app.command("eval")
def eval_command(
    gold: Annotated[Path, typer.Option("--gold", help="Gold labels file (TSV).")],
    train: Annotated[
        list[Path] | None, typer.Option("--train", help="Training labels file; repeatable.")
    ] = None,
    seeds: SeedsOption = True,
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="Refine with the LLM stage.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON line.")] = False,
    ai_prior: Annotated[str, typer.Option(
        "--ai-prior",
        help="AI share the 'is AI' decisions assume: 'batch' (estimated from the gold texts, "
             "not their labels), 'none' (the training share: half AI) or a number in (0, 1)."
    )] = "batch",
    count_folds: Annotated[int, typer.Option(
        "--count-folds", min=0,
        help="Folds of the cross-validation that measures the confusion the estimated counts "
             "correct (0: labelled counts only, much faster)."
    )] = 5,
) -> None:
    """Train on the training labels minus the gold rows, predict the gold rows and score them.

    Also counts per category: gold, labelled (classify and count) and estimated (corrected for
    the confusion measured by cross-validating the training labels), with the count errors."""
    prior = parse_ai_prior(ai_prior)
    gold_labels = read_labels(gold)
    training = training_labels(train, seeds)
    # The LLM's few-shot examples must not include gold rows either.
    refiner = _refiner(remove_gold(training, gold_labels)[0]) if llm else None
    report = evaluate(gold_labels, training, refiner, ai_prior=prior, count_folds=count_folds)
    _print_report(report)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
