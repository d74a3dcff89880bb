"""`stackatlas crawl`: the collector's command (registered by stackatlas.commands).

Errors propagate to `stackatlas.main.main`, which prints them as one line and exits non-zero.
SIGTERM and Ctrl-C stop the crawl after the page in flight (see ``stackatlas.signals``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackatlas.present import console
from stackatlas.settings import get_settings


def crawl(
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="GitHub REST API base URL (or a replay server).")
    ] = None,
    all_500: Annotated[
        bool,
        typer.Option("--all-500", help="Every repository above the star threshold, AI or not."),
    ] = False,
    queries: Annotated[
        Path | None, typer.Option("--queries", help="TOML file of search queries.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the last unfinished crawl run.")
    ] = False,
    readme: Annotated[
        bool | None,
        typer.Option("--readme/--no-readme", help="Fetch README excerpts (default: settings)."),
    ] = None,
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file of the warehouse.")] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress display.")
    ] = True,
) -> None:
    """Crawl GitHub's search API into the warehouse."""
    from collector.crawl import run_crawl
    from stackatlas.signals import stop_on_signals
    from warehouse.db import connect

    settings = get_settings()
    con = connect(db or settings.db_path)
    try:
        with stop_on_signals() as stop:
            result = run_crawl(
                con, settings, api_url=api_url, all_500=all_500, queries_file=queries,
                resume=resume, readme=readme, progress=progress, stop=stop.event,
            )
    finally:
        con.close()
    console.print(str(result), markup=False, highlight=False)
