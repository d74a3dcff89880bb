"""The offline demo: replay GitHub locally, run the pipeline into a fresh database, then serve."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from stackatlas.errors import DatabaseError
from stackatlas.present import console, print_summary
from stackatlas.settings import Settings
from warehouse.db import connect

log = logging.getLogger(__name__)

SAMPLE_SIZE = 2000
SAMPLE_SEED = 7


def sample_snapshot_path(settings: Settings) -> Path:
    """The bundled sample, generated deterministically on first use."""
    from standins.sample import write_sample

    path = settings.data_dir / f"sample_snapshot_{SAMPLE_SIZE}_{SAMPLE_SEED}.tsv"
    if not path.exists():
        write_sample(path, n=SAMPLE_SIZE, seed=SAMPLE_SEED)
    return path


def fresh_demo_database(path: Path) -> None:
    """Remove a previous demo database; refuse to touch one that holds a real crawl, and keep
    one that holds a person's labels under another name (answers nobody can re-run)."""
    if not path.exists():
        return
    con = connect(path, read_only=True, migrate=False)
    try:
        urls = con.execute("SELECT DISTINCT api_url FROM crawl_runs").fetchall()
        human = con.execute("SELECT count(DISTINCT repo_id) FROM classifications "
                            "WHERE method = 'human'").fetchall()
    except Exception:  # not a stackatlas database, or an empty one
        urls, human = [("not a stackatlas demo database",)], [(0,)]
    finally:
        con.close()
    if any(not str(url).startswith("http://127.0.0.1") for (url,) in urls):
        raise DatabaseError(
            f"{path} holds data that is not from a demo",
            "give the demo another --db; it starts from a fresh database each time",
        )
    kept = path.with_name(f"{path.name}.{datetime.now():%Y%m%d-%H%M%S}.bak")
    for leftover, aside in ((path, kept), (path.with_name(path.name + ".wal"),
                                           kept.with_name(kept.name + ".wal"))):
        if human[0][0] and leftover.exists():
            leftover.rename(aside)
        leftover.unlink(missing_ok=True)
    if human[0][0]:
        log.warning("the previous demo database held %d human labels: kept as %s",
                    human[0][0], kept)


@contextlib.contextmanager
def _maybe_fake_llm(enabled: bool) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    from standins.fake_llm import FakeLLMServer

    with FakeLLMServer() as server:
        yield server.url


def run_demo(
    settings: Settings,
    *,
    snapshot: Path | None,
    db: Path | None,
    serve_after: bool,
    fake_llm: bool,
    readme: bool = False,
) -> None:
    from stackatlas.pipeline import run_pipeline
    from standins.github.server import ReplayServer
    from standins.github.snapshot import load_snapshot

    snapshot_path = snapshot or sample_snapshot_path(settings)
    repos = load_snapshot(snapshot_path)
    db_path = db or settings.data_dir / "demo.duckdb"
    fresh_demo_database(db_path)
    with ReplayServer(repos) as replay, _maybe_fake_llm(fake_llm) as llm_url:
        console.print(f"replaying {snapshot_path} as GitHub at {replay.url}")
        # The replay accepts any token; with one, it grants GitHub's authenticated limits.
        updates: dict[str, object] = {
            "api_url": replay.url,
            "db": db_path,
            "github_token": SecretStr("offline-demo"),
        }
        if llm_url is not None:
            updates["llm_url"] = llm_url
        demo_settings = settings.model_copy(update=updates)
        con = connect(db_path)
        try:
            result = run_pipeline(
                con, demo_settings, all_500=True, readme=readme, progress=console.is_terminal
            )
        finally:
            con.close()
        print_summary(result, database=str(db_path))
        if serve_after:
            _serve(demo_settings)


def _serve(settings: Settings) -> None:
    from stackatlas.scheduler import run_service

    base = f"http://{settings.host}:{settings.port}"
    console.print(
        f"dashboard: {base}/   API: {base}/v1/repos   docs: {base}/docs   (Ctrl-C stops)"
    )
    # The scheduled jobs crawl the replay the way the demo did: every repository above 500.
    run_service(settings.model_copy(update={"crawl_all_500": True}))
