"""`stackatlas review`: confirm or correct the labels whose answers help the counts most.

Each answer is a human label (``classifier/overrides.py``): it wins over every machine label and
trains the next model. The queue's order is stored with the newest estimates
(``classifier/estimation.py: review_order``): by review score first, then a calibration sample.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import duckdb
import typer
from rich.panel import Panel
from rich.table import Table

from classifier import taxonomy
from stackatlas.cli import DbOption, app, settings_for
from stackatlas.errors import ConfigError
from stackatlas.present import console

log = logging.getLogger(__name__)

KEYS = "a = accept the label · 1-8 = pick that category · s = skip · q = quit"


@dataclass
class Tally:
    accepted: int = 0
    corrected: int = 0
    skipped: int = 0

    @property
    def answered(self) -> int:
        return self.accepted + self.corrected


def _choices(row: dict[str, Any]) -> list[tuple[str, float]]:
    """Every category with its probability, likeliest first (the numbers the reviewer types)."""
    return sorted(zip(row["categories"], row["probabilities"], strict=True),
                  key=lambda pair: -pair[1])


def _show(row: dict[str, Any], rank: int, total: int) -> list[tuple[str, float]]:
    created = str(row["created_at"] or "")[:10] or "unknown"
    header = (f"[bold]{row['full_name']}[/]  ★ {row['stars'] or 0:,}  "
              f"{row['language'] or 'no language'}  created {created}")
    label = (f"label: [bold]{row['category']}[/] ({row['method']}, confidence "
             f"{(row['confidence'] or 0):.2f})\nwhy: {row['rationale'] or '-'}")
    body = f"{row['description'] or '(no description)'}\n\n{label}"
    console.print(Panel(body, title=f"{rank} of {total}: {header}", title_align="left"))
    choices = _choices(row)
    table = Table("#", "category", "probability", box=None)
    for number, (category, probability) in enumerate(choices, start=1):
        mark = " ←" if category == row["category"] else ""
        table.add_row(str(number), category + mark, f"{probability:.2f}")
    console.print(table)
    return choices


def _ask(choices: list[tuple[str, float]]) -> str:
    """'accept', 'skip', 'quit' or a category; asks again on anything else."""
    while True:
        answer = typer.prompt(KEYS, default="a", show_default=False).strip().lower()
        if answer in {"a", "s", "q"}:
            return {"a": "accept", "s": "skip", "q": "quit"}[answer]
        if answer.isdigit() and 1 <= int(answer) <= len(choices):
            return choices[int(answer) - 1][0]
        console.print(f"[yellow]{answer!r} is not an answer[/]: {KEYS}")


def _record(con: duckdb.DuckDBPyConnection, row: dict[str, Any], answer: str,
            tally: Tally) -> None:
    from classifier.overrides import set_human_label

    if answer == "accept" or answer == row["category"]:
        set_human_label(con, row["full_name"], row["category"], row["subcategory"],
                        note="review: confirmed")
        tally.accepted += 1
    else:
        set_human_label(con, row["full_name"], answer, None,
                        note=f"review: corrected from {row['category']}")
        tally.corrected += 1


def run_review(con: duckdb.DuckDBPyConnection, *, limit: int,
               category: str | None = None) -> Tally:
    """Walk the queue's first ``limit`` repositories, storing each answer as it is given."""
    from warehouse.estimates import review_queue

    rows = review_queue(con, limit=limit, category=category)
    tally = Tally()
    for rank, row in enumerate(rows, start=1):
        answer = _ask(_show(row, rank, len(rows)))
        if answer == "quit":
            break
        if answer == "skip":
            tally.skipped += 1
            continue
        _record(con, row, answer, tally)
    return tally


@app.command()
def review(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Repositories to show at most.")] = 20,
    category: Annotated[
        str | None, typer.Option(help="Only repositories currently labelled so.")] = None,
    update: Annotated[bool, typer.Option(
        "--update/--no-update",
        help="After answering: retrain, relabel and re-estimate the counts.")] = True,
) -> None:
    """Confirm or correct the labels that matter most to the counts (each answer trains the
    next model)."""
    from classifier.service import classify_repositories, refresh_estimates
    from warehouse.db import connect
    from warehouse.estimates import human_confirmed, latest_run

    if category is not None and category not in taxonomy.CATEGORIES:
        raise ConfigError(f"unknown category {category!r}",
                          f"use one of: {', '.join(taxonomy.CATEGORIES)}")
    settings = settings_for(db)
    con = connect(settings.db_path)
    try:
        if latest_run(con) is None:
            raise ConfigError("no review queue yet: the counts were never estimated",
                              "run `stackatlas classify` first")
        tally = run_review(con, limit=limit, category=category)
        console.print(f"{tally.accepted} confirmed, {tally.corrected} corrected, "
                      f"{tally.skipped} skipped; {human_confirmed(con)} labels are "
                      "human-confirmed")
        if update and tally.answered:
            with console.status("retraining and re-estimating the counts…"):
                result = classify_repositories(con, settings)
                refresh_estimates(con, settings)
            console.print(result.summary_line())
    finally:
        con.close()
