"""The `stackatlas` Typer app, its sub-apps, shared options and the `db` commands.

The other commands register themselves on ``app`` in ``stackatlas.commands``; the entry point
``stackatlas.main`` imports both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stackatlas.logs import configure_logging
from stackatlas.present import console
from stackatlas.settings import Settings, get_settings

log = logging.getLogger(__name__)

app = typer.Typer(
    help="stackatlas: a live map of the AI stack on GitHub (crawl, classify, count, serve).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create, migrate and inspect the DuckDB warehouse.", no_args_is_help=True)
label_app = typer.Typer(help="Human labels: they override the classifier.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(label_app, name="label")

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file (default: STACKATLAS_DB or data/stackatlas.duckdb)."),
]


def settings_for(db: Path | None = None, **overrides: object) -> Settings:
    """The settings object, with command-line options taking precedence over the environment."""
    settings = get_settings()
    updates = {key: value for key, value in overrides.items() if value is not None}
    if db is not None:
        updates["db"] = db
    return settings.model_copy(update=updates) if updates else settings


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object a line (STACKATLAS_LOG_FORMAT).")
    ] = False,
) -> None:
    settings = get_settings()
    configure_logging(
        "DEBUG" if verbose else settings.log_level,
        log_format="json" if log_json else settings.log_format,
        secrets=settings.secret_values(),
    )


@db_app.command("migrate")
def db_migrate(db: DbOption = None) -> None:
    """Create the database if needed and apply every pending migration."""
    from warehouse.db import connect
    from warehouse.schema import apply_migrations

    settings = settings_for(db)
    con = connect(settings.db_path, migrate=False)
    applied = apply_migrations(con)
    con.close()
    if applied:
        for migration in applied:
            console.print(f"applied {migration.version:>3}  {migration.name}")
    else:
        console.print(f"{settings.db_path} is up to date")


@db_app.command("status")
def db_status(db: DbOption = None) -> None:
    """Show applied and pending migrations and the size of each table."""
    from warehouse.db import connect
    from warehouse.schema import MIGRATIONS, applied_versions

    settings = settings_for(db)
    con = connect(settings.db_path, migrate=False)
    done = set(applied_versions(con))
    table = Table("version", "migration", "state", title=str(settings.db_path))
    for migration in MIGRATIONS:
        state = "applied" if migration.version in done else "[yellow]pending[/]"
        table.add_row(str(migration.version), migration.name, state)
    console.print(table)
    if done:
        counts = Table("table", "rows")
        names = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1"
        ).fetchall()
        for (name,) in names:
            (rows,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0]
            counts.add_row(name, str(rows))
        console.print(counts)
    con.close()
