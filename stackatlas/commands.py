"""The commands of each stage, registered on the `stackatlas` app.

Each command parses options, calls the stage's function and presents the result; the work itself
lives in the stage packages so that the scheduler and the API call the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer

from stackatlas import review_cli  # noqa: F401 (registers `stackatlas review`)
from stackatlas.classifier_cli import app as classifier_app
from stackatlas.cli import DbOption, app, console, label_app, settings_for
from stackatlas.crawl_cli import crawl
from stackatlas.errors import ConfigError, NotFoundError, StackatlasError
from stackatlas.settings import Settings

app.command("crawl", help="Crawl GitHub's search API into the warehouse.")(crawl)
app.add_typer(classifier_app, name="classifier", help="Train and evaluate the classifier.")


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="TSV file to write.")] = Path(
        "data/sample_snapshot.tsv"
    ),
    n: Annotated[int, typer.Option("--n", min=10, help="Number of repositories.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 7,
) -> None:
    """Generate the project's own sample snapshot (deterministic, no ../shared needed)."""
    from standins.sample import write_sample

    write_sample(out, n=n, seed=seed)
    console.print(f"wrote {n} repositories to {out}")


@app.command()
def replay(
    snapshot: Annotated[Path, typer.Option(help="Snapshot TSV to serve.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8700,
    error_rate: Annotated[float, typer.Option(help="Share of 502/503 answers.")] = 0.0,
    secondary_limit_rate: Annotated[
        float, typer.Option(help="Share of secondary rate limits (403 with retry-after).")
    ] = 0.0,
    incomplete_rate: Annotated[
        float, typer.Option(help="Share of search pages with incomplete_results.")
    ] = 0.0,
    latency: Annotated[float, typer.Option(help="Seconds added to every answer.")] = 0.0,
    search_window: Annotated[
        float, typer.Option(help="Seconds of the search bucket's window (GitHub: 60).")
    ] = 60.0,
) -> None:
    """Serve a snapshot on 127.0.0.1 with GitHub's REST shapes and rate limits (Ctrl-C stops).

    Point a crawl at it with `stackatlas crawl --api-url http://127.0.0.1:PORT`; the fault
    options make it misbehave the way GitHub sometimes does.
    """
    from standins.github import FaultConfig, RateLimitConfig
    from standins.github.server import serve_replay

    faults = FaultConfig(
        error_rate=error_rate, secondary_limit_rate=secondary_limit_rate,
        incomplete_rate=incomplete_rate, latency=latency,
    )
    limits = RateLimitConfig(search_window=search_window)
    serve_replay(snapshot, port, rate_limits=limits, faults=faults)


@app.command()
def classify(
    db: DbOption = None,
    llm: Annotated[
        bool | None,
        typer.Option("--llm/--no-llm", help="Ask the LLM when unsure (default: when LLM URL set)."),
    ] = None,
    retrain: Annotated[
        bool, typer.Option(help="Retrain the model (seed + human labels) before classifying.")
    ] = False,
) -> None:
    """Label every repository that has no up-to-date label (new text, model or taxonomy), then
    estimate the true counts per month and category."""
    from classifier.service import classify_repositories, refresh_estimates
    from warehouse.db import connect

    settings = settings_for(db)
    con = connect(settings.db_path)
    try:
        result = classify_repositories(con, settings, use_llm=llm, retrain=retrain)
        estimates = refresh_estimates(con, settings)
    finally:
        con.close()
    console.print(result.summary_line())
    if estimates is not None:
        console.print(f"estimated counts ({estimates.method}, 90% intervals) stored for model "
                      f"{estimates.model_version}; {estimates.human_confirmed} human-confirmed")


@label_app.command("set")
def label_set(
    repository: Annotated[str, typer.Argument(help="OWNER/NAME of the repository.")],
    category: Annotated[str, typer.Argument(help="Category from the taxonomy.")],
    subcategory: Annotated[str | None, typer.Option(help="Subcategory.")] = None,
    note: Annotated[str | None, typer.Option(help="Why; kept in the history.")] = None,
    db: DbOption = None,
) -> None:
    """Give a repository a human label; it wins over every machine label and is kept in history."""
    from classifier.overrides import set_human_label
    from warehouse.db import connect

    settings = settings_for(db)
    con = connect(settings.db_path)
    try:
        label = set_human_label(con, repository, category, subcategory, note)
    finally:
        con.close()
    console.print(f"{repository}: {label['layer']} / {label['category']} (human)")


@label_app.command("history")
def label_history_command(
    repository: Annotated[str, typer.Argument(help="OWNER/NAME of the repository.")],
    db: DbOption = None,
) -> None:
    """Every label the repository has had, oldest first."""
    from rich.table import Table

    from classifier.overrides import repository_or_error
    from warehouse.db import connect
    from warehouse.labels import label_history

    settings = settings_for(db)
    con = connect(settings.db_path)
    try:
        repo = repository_or_error(con, repository)
        rows = label_history(con, repo["id"])
    finally:
        con.close()
    table = Table("time", "method", "category", "subcategory", "confidence", "version", "why")
    for row in rows:
        confidence = "" if row["confidence"] is None else f"{row['confidence']:.2f}"
        version = row["model_version"] or row["prompt_version"] or ""
        why = row["note"] or row["rationale"] or ""
        table.add_row(
            str(row["created_at"])[:19], row["method"], row["category"],
            row["subcategory"] or "", confidence, version, why,
        )
    console.print(table)


@app.command()
def counts(
    db: DbOption = None,
    layer: Annotated[str | None, typer.Option(help="Only this layer.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the series to this CSV file.")] = None,
) -> None:
    """Cumulative repositories per creation month and category."""
    from warehouse.counts import monthly_counts
    from warehouse.db import connect

    _check_taxonomy_value("layer", layer)
    _check_taxonomy_value("category", category)
    settings = settings_for(db)
    con = connect(settings.db_path)
    try:
        frame = monthly_counts(con, layer=layer, category=category)
        if frame.is_empty():
            raise _nothing_to_count(con, layer=layer, category=category)
    finally:
        con.close()
    if csv is not None:
        frame.write_csv(csv)
        console.print(f"wrote {frame.height} rows to {csv}")
    else:
        console.print(frame.filter(frame["month"] == frame["month"].max()))


def _check_taxonomy_value(option: str, value: str | None) -> None:
    from classifier import taxonomy

    allowed = list(taxonomy.LAYERS if option == "layer" else taxonomy.CATEGORIES)
    if value is not None and value not in allowed:
        raise ConfigError(f"unknown {option} {value!r}", f"use one of: {', '.join(allowed)}")


def _nothing_to_count(
    con: duckdb.DuckDBPyConnection, *, layer: str | None, category: str | None
) -> StackatlasError:
    """Why the counts are empty, and what to run: nothing crawled, nothing labelled, or a filter."""
    from warehouse.status import current_labels_by_method

    crawled = int(con.execute("SELECT count(*) FROM repositories").fetchall()[0][0])
    if not crawled:
        return NotFoundError(
            "no repositories yet", "run `stackatlas crawl` (or `stackatlas demo` offline)"
        )
    if not sum(current_labels_by_method(con).values()):
        return NotFoundError(
            f"no labelled repositories yet ({crawled} crawled)", "run `stackatlas classify`"
        )
    wanted = " ".join(f"{k} {v}" for k, v in (("layer", layer), ("category", category)) if v)
    return NotFoundError(
        f"no active AI repository counted{' in ' + wanted if wanted else ''}",
        "try another --layer/--category, or none",
    )


release_app = typer.Typer(help="Frozen, citable releases of the figures.", no_args_is_help=True)
app.add_typer(release_app, name="release")


@release_app.command("publish")
def release_publish(db: DbOption = None) -> None:
    """Refresh the analytics and publish them now as a new release (a run does this at its end)."""
    from stackatlas.pipeline import release_step
    from warehouse.db import connect

    settings = settings_for(db)
    con = connect(settings.db_path)
    try:
        release = release_step(con, settings)
    finally:
        con.close()
    console.print(f"published release [bold]{release.id}[/] (data date {release.data_date})")


@release_app.command("list")
def release_list(db: DbOption = None) -> None:
    """The published releases, newest first."""
    from rich.table import Table

    from warehouse.db import connect
    from warehouse.releases import list_releases

    settings = settings_for(db)
    con = connect(settings.db_path)
    try:
        releases = list_releases(con)
    finally:
        con.close()
    table = Table("release", "published (UTC)", "data date", "repos", title=str(settings.db_path))
    for release in releases:
        table.add_row(
            release.id, release.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            str(release.data_date or ""), str(release.methodology.get("repos", "")),
        )  # fmt: skip
    console.print(table if releases else "no release yet: `stackatlas release publish` makes one")


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    scheduler: Annotated[
        bool | None,
        typer.Option("--scheduler/--no-scheduler",
                     help="Run the scheduled jobs in this process (default: STACKATLAS_SCHEDULE)."),
    ] = None,
) -> None:
    """Serve the REST API and the dashboard (default http://127.0.0.1:8000), with the scheduler:
    crawls, classification and releases on the timetable of the settings."""
    from stackatlas.scheduler import run_service

    run_service(settings_for(db, host=host, port=port), schedule=scheduler)


@app.command("run-now")
def run_now(
    job: Annotated[
        str, typer.Argument(help="discovery | stars | readme | classify | release.")
    ] = "discovery",
    db: DbOption = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="With a server: wait for the run to end.")
    ] = False,
) -> None:
    """Run a job and its follow-ups now: through the running server (POST /v1/runs) when one
    answers at the settings' host and port, else in this process."""
    from stackatlas import remote
    from stackatlas.scheduler import check_job

    settings = settings_for(db)
    check_job(job)
    url = remote.running_server(settings)
    if url is None:
        _run_in_process(settings, job)
        return
    run = remote.trigger(url, settings, job)
    console.print(f"run {run['id']} ({job}) queued on {url}: GET {url}/v1/runs/{run['id']}",
                  markup=False, highlight=False)
    if wait:
        chain = remote.wait_for_chain(url, run["id"])
        _print_runs(chain)
        if any(r["status"] != "succeeded" for r in chain):
            raise typer.Exit(1)


def _run_in_process(settings: Settings, job: str) -> None:
    from stackatlas.scheduler import JobRunner
    from stackatlas.signals import EXIT_CODES, stop_on_signals
    from warehouse.db import connect

    con = connect(settings.db_path)
    try:
        runner = JobRunner(con, settings)
        runner.recover()
        with stop_on_signals() as stop:
            runner.stop = stop.event
            runs = runner.run_now(job)
    finally:
        con.close()
    _print_runs([run.as_dict() for run in runs])
    if stop.signum is not None:
        raise typer.Exit(EXIT_CODES[stop.signum])
    if any(run.status != "succeeded" for run in runs):
        raise typer.Exit(1)


def _print_runs(runs: list[dict[str, Any]]) -> None:
    for run in runs:
        outcome = run["error"] or ", ".join(
            f"{key} {value}" for key, value in (run["counts"] or {}).items()
        )
        console.print(f"run {run['id']} {run['job']}: {run['status']} — {outcome}",
                      markup=False, highlight=False)


@app.command()
def demo(
    snapshot: Annotated[
        Path | None, typer.Option(help="Snapshot TSV (default: the bundled generated sample).")
    ] = None,
    db: Annotated[
        Path | None, typer.Option("--db", help="Database (default: data/demo.duckdb).")
    ] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve API and dashboard afterwards.")
    ] = True,
    port: Annotated[int | None, typer.Option(help="API port (default 8000).")] = None,
    fake_llm: Annotated[
        bool, typer.Option(help="Run the LLM stage against the bundled fake LLM server.")
    ] = False,
    readme: Annotated[
        bool,
        typer.Option(help="Also fetch READMEs (paced at 900/min as on GitHub: ~2 min more)."),
    ] = False,
) -> None:
    """Offline demo: replay GitHub locally, crawl, classify, count, then serve."""
    from stackatlas.demo import run_demo

    run_demo(
        settings_for(None, port=port), snapshot=snapshot, db=db,
        serve_after=serve_after, fake_llm=fake_llm, readme=readme,
    )


@app.command()
def run(
    db: DbOption = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve API and dashboard afterwards.")
    ] = True,
) -> None:
    """The main job: a real crawl when GITHUB_TOKEN is set, the offline demo otherwise."""
    from stackatlas.demo import run_demo

    settings = settings_for(db)
    if settings.github_token is None:
        console.print("GITHUB_TOKEN is not set: running the offline demo (see README).")
        run_demo(settings, snapshot=None, db=db, serve_after=serve_after, fake_llm=False)
    else:
        run_live(settings, serve_after=serve_after)


@app.command("fake-llm")
def fake_llm_command(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8800,
) -> None:
    """Serve the fake OpenAI-compatible LLM used by tests and the offline demo."""
    from standins.fake_llm import serve_fake_llm

    serve_fake_llm(port)


def run_live(settings: Settings, *, serve_after: bool) -> None:
    """A real crawl of settings.api_url (GitHub with GITHUB_TOKEN), then optionally serve."""
    from stackatlas.pipeline import run_pipeline
    from stackatlas.present import print_summary
    from warehouse.db import connect

    con = connect(settings.db_path)
    try:
        result = run_pipeline(con, settings)
    finally:
        con.close()
    print_summary(result, database=str(settings.db_path))
    if serve_after:
        from stackatlas.scheduler import run_service

        run_service(settings)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the report bundle into.")],
    release: Annotated[
        str | None, typer.Option(help="Release id (default: the latest published one).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First month of the period, YYYY-MM.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    db: DbOption = None,
) -> None:
    """Write the writers' report: findings, charts (PNG, SVG, greyscale), CSVs, citation."""
    from dashboards.params import parse_month
    from dashboards.report import ReportRequest, build_report
    from warehouse.db import connect

    try:
        first = parse_month(start) if start else None
        last = parse_month(end) if end else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if first and last and last < first:
        raise typer.BadParameter("--to must not precede --from")
    settings = settings_for(db)
    request = ReportRequest(release=release, start=first, end=last, threshold=settings.min_stars,
                            base_url=f"http://{settings.host}:{settings.port}")  # fmt: skip
    con = connect(settings.db_path)
    try:
        findings = build_report(con, out, request)
    finally:
        con.close()
    console.print(
        f"wrote the report for release {findings.context.release_label} "
        f"({findings.start:%Y-%m} to {findings.end:%Y-%m}) to {out}"
    )
