"""The command line: help everywhere, one-line errors, the demo end to end."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from stackatlas.main import app
from standins.github.snapshot import write_snapshot
from standins.sample import generate_sample
from tests.conftest import PROJECT_ROOT

runner = CliRunner()


def all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(get_command(app), [])
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "root")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert len(result.output.strip().splitlines()) > 3


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackatlas", *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(cwd)},
    )


def test_db_migrate_then_status(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    first = run_cli("db", "migrate", "--db", str(db), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    again = run_cli("db", "migrate", "--db", str(db), cwd=tmp_path)
    assert "up to date" in again.stdout
    status = run_cli("db", "status", "--db", str(db), cwd=tmp_path)
    assert status.returncode == 0 and "repositories" in status.stdout


def test_missing_snapshot_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli("demo", "--no-serve", "--snapshot", "nope.tsv", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "nope.tsv" in error_lines[0]


def test_malformed_snapshot_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    write_snapshot(generate_sample(n=20, seed=1), bad)
    lines = bad.read_text().splitlines()
    columns = lines[5].split("\t")
    columns[1] = "many"
    lines[5] = "\t".join(columns)
    bad.write_text("\n".join(lines) + "\n")
    result = run_cli("demo", "--no-serve", "--snapshot", str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "line 6" in result.stderr and "many" in result.stderr


@pytest.mark.slow
def test_demo_no_serve_summarises_and_exits_zero(tmp_path: Path) -> None:
    snapshot = tmp_path / "small.tsv"
    write_snapshot(generate_sample(n=150, seed=5), snapshot)
    db = tmp_path / "demo.duckdb"
    result = run_cli(
        "demo", "--no-serve", "--snapshot", str(snapshot), "--db", str(db), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "150 repositories" in result.stdout
    for layer in ("application", "model", "infrastructure"):
        assert layer in result.stdout
    again = run_cli(
        "demo", "--no-serve", "--snapshot", str(snapshot), "--db", str(db), cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr


def test_demo_refuses_to_overwrite_a_real_database(tmp_path: Path) -> None:
    db = tmp_path / "real.duckdb"
    from warehouse.db import connect

    con = connect(db)
    con.execute(
        "INSERT INTO crawl_runs (started_at, status, mode, api_url)"
        " VALUES (now(), 'succeeded', 'queries', 'https://api.github.com')"
    )
    con.close()
    result = run_cli("demo", "--no-serve", "--db", str(db), cwd=tmp_path)
    assert result.returncode != 0
    assert "not from a demo" in result.stderr
    assert db.exists()


def test_crawl_against_a_dead_endpoint_is_one_line_and_keeps_the_database(tmp_path: Path) -> None:
    db = tmp_path / "kept.duckdb"
    assert run_cli("db", "migrate", "--db", str(db), cwd=tmp_path).returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "stackatlas", "crawl", "--api-url", "http://127.0.0.1:9",
         "--db", str(db), "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tmp_path),
             "STACKATLAS_MAX_RETRIES": "1", "GITHUB_TOKEN": "ghp_never_printed_42"},
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--resume" in errors[0]
    assert "Traceback" not in result.stderr
    assert "ghp_never_printed_42" not in result.stderr + result.stdout
    status = run_cli("db", "status", "--db", str(db), cwd=tmp_path)
    assert status.returncode == 0 and "crawl_runs" in status.stdout


def test_release_publish_then_list(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    empty = runner.invoke(app, ["release", "list", "--db", str(db)])
    assert empty.exit_code == 0, empty.output
    assert "no release yet" in empty.output
    published = runner.invoke(app, ["release", "publish", "--db", str(db)])
    assert published.exit_code == 0, published.output
    assert "published release" in published.output
    listed = runner.invoke(app, ["release", "list", "--db", str(db)])
    assert listed.exit_code == 0 and ".1" in listed.output


def _one_clean_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_read_commands_on_a_fresh_database_say_what_to_do(tmp_path: Path) -> None:
    db = str(tmp_path / "fresh.duckdb")
    csv_file = str(tmp_path / "c.csv")
    for args in (["counts"], ["counts", "--csv", csv_file], ["counts", "--layer", "model"]):
        result = run_cli(*args, "--db", db, cwd=tmp_path)
        assert result.returncode == 1, result.stdout
        assert _one_clean_line(result) == (
            "error: no repositories yet — run `stackatlas crawl` (or `stackatlas demo` offline)"
        )
    assert not (tmp_path / "c.csv").exists()
    unknown = run_cli("counts", "--category", "nope", "--db", db, cwd=tmp_path)
    assert unknown.returncode == 2
    assert _one_clean_line(unknown).startswith("error: unknown category 'nope' — use one of: ")
    releases = run_cli("release", "list", "--db", db, cwd=tmp_path)
    assert releases.returncode == 0 and "no release yet" in releases.stdout
    history = run_cli("label", "history", "a/b", "--db", db, cwd=tmp_path)
    assert history.returncode == 1
    assert "repository a/b is not in the warehouse" in _one_clean_line(history)
    status = run_cli("db", "status", "--db", db, cwd=tmp_path)
    assert status.returncode == 0 and "Traceback" not in status.stderr


def test_counts_say_why_they_are_empty(tmp_path: Path) -> None:
    from tests.factories import add_label, add_repositories, make_repo
    from warehouse.db import connect

    db = tmp_path / "w.duckdb"
    con = connect(db)
    created = date(2024, 3, 1)
    add_repositories(
        con, [make_repo(1, "a/one", created=created), make_repo(2, "b/two", created=created)]
    )
    con.close()
    unlabelled = run_cli("counts", "--db", str(db), cwd=tmp_path)
    assert unlabelled.returncode == 1
    assert _one_clean_line(unlabelled) == (
        "error: no labelled repositories yet (2 crawled) — run `stackatlas classify`"
    )
    con = connect(db)
    add_label(con, 1, "models")
    con.close()
    elsewhere = run_cli("counts", "--category", "lists", "--db", str(db), cwd=tmp_path)
    assert elsewhere.returncode == 1
    assert _one_clean_line(elsewhere) == (
        "error: no active AI repository counted in category lists — try another "
        "--layer/--category, or none"
    )
    counted = run_cli("counts", "--db", str(db), cwd=tmp_path)
    assert counted.returncode == 0, counted.stderr
    assert "models" in counted.stdout


def test_a_demo_database_with_human_labels_is_kept_aside_not_deleted(tmp_path: Path) -> None:
    from stackatlas.demo import fresh_demo_database
    from tests.factories import add_label, add_repositories, make_repo
    from warehouse.db import connect

    db = tmp_path / "demo.duckdb"
    con = connect(db)
    con.execute("INSERT INTO crawl_runs (started_at, status, mode, api_url)"
                " VALUES (now(), 'succeeded', 'queries', 'http://127.0.0.1:9999')")
    add_repositories(con, [make_repo(1, "acme/agent", created=date(2024, 1, 1))])
    add_label(con, 1, "applications", method="human")
    con.close()
    fresh_demo_database(db)
    assert not db.exists()
    (kept,) = tmp_path.glob("demo.duckdb.*.bak")
    con = connect(kept, read_only=True, migrate=False)
    assert con.execute("SELECT count(*) FROM classifications WHERE method = 'human'"
                       ).fetchall() == [(1,)]
    con.close()


def test_unusable_paths_and_settings_are_one_line_errors(tmp_path: Path) -> None:
    from tests.factories import add_label, add_repositories, make_repo
    from warehouse.db import connect

    (tmp_path / "a-file").write_text("x")
    db = str(tmp_path / "x.duckdb")
    con = connect(db)
    add_repositories(con, [make_repo(1, "acme/agent", created=date(2024, 1, 1))])
    add_label(con, 1, "applications")
    con.close()
    cases = [
        (("counts", "--db", db, "--csv", str(tmp_path / "missing" / "c.csv")), "missing"),
        (("report", "--db", db, "--out", str(tmp_path / "a-file")), "a-file"),
        (("sample", "--out", str(tmp_path), "--n", "10"), "Is a directory"),
    ]
    for args, named in cases:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and named in result.stderr
        assert "check the path" in result.stderr
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("full_name\tcategory\ncaf\xe9/x\tmodels\n".encode("latin-1"))
    result = run_cli("classifier", "eval", "--gold", str(latin), cwd=tmp_path)
    assert result.returncode == 2 and "not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_log_level_is_an_invalid_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stackatlas", "release", "list", "--db", str(tmp_path / "x.db")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT), "HOME": str(tmp_path),
             "STACKATLAS_LOG_LEVEL": "bogus"},
    )
    assert result.returncode == 2 and "log_level" in result.stderr
    assert "Traceback" not in result.stderr
