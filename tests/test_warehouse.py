from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from stackatlas.errors import DatabaseError
from warehouse.counts import category_summary, monthly_counts
from warehouse.db import connect
from warehouse.labels import LabelRecord, current_label, insert_labels, label_as_of, label_history
from warehouse.repos import RepoRecord, find_repository, record_observations, upsert_repositories
from warehouse.schema import LATEST_VERSION, MIGRATIONS, applied_versions, apply_migrations

SEEN = datetime(2026, 11, 1, 12, 0)


def repo(repo_id: int, full_name: str, created: datetime, stars: int = 900) -> RepoRecord:
    return RepoRecord(
        id=repo_id, full_name=full_name, description="An LLM tool", topics=["llm"],
        created_at=created, stars=stars, forks=10,
    )


def label(repo_id: int, category: str, method: str, at: datetime) -> LabelRecord:
    layers = {"applications": "application", "models": "model", "infrastructure": "infrastructure"}
    return LabelRecord(
        repo_id=repo_id, layer=layers[category], category=category, method=method,
        taxonomy_version="1", created_at=at,
    )


def test_migrations_applied_twice_are_a_no_op(db_path: Path) -> None:
    first = connect(db_path, migrate=False)
    # every migration in order (the numbers may have gaps while branches are merged)
    versions = [m.version for m in MIGRATIONS]
    assert versions == sorted(versions) and versions[-1] == LATEST_VERSION
    assert [m.version for m in apply_migrations(first)] == versions
    assert apply_migrations(first) == []
    first.close()
    again = connect(db_path)
    assert applied_versions(again) == versions
    again.close()


def test_upsert_is_idempotent(con: duckdb.DuckDBPyConnection) -> None:
    records = [repo(1, "a/one", datetime(2023, 1, 5)), repo(2, "b/two", datetime(2023, 3, 5))]
    upsert_repositories(con, records, SEEN)
    upsert_repositories(con, records, SEEN)
    assert con.execute("SELECT count(*) FROM repositories").fetchall() == [(2,)]


def test_rename_keeps_one_row_and_is_found_by_old_name(con: duckdb.DuckDBPyConnection) -> None:
    upsert_repositories(con, [repo(7, "old-owner/tool", datetime(2023, 1, 1))], SEEN)
    upsert_repositories(con, [repo(7, "new-owner/tool", datetime(2023, 1, 1), stars=1200)], SEEN)
    rows = con.execute("SELECT id, full_name, owner, stars FROM repositories").fetchall()
    assert rows == [(7, "new-owner/tool", "new-owner", 1200)]
    found = find_repository(con, "OLD-OWNER/tool")
    assert found is not None and found["full_name"] == "new-owner/tool"


def test_one_observation_per_repo_per_run(con: duckdb.DuckDBPyConnection) -> None:
    records = [repo(1, "a/one", datetime(2023, 1, 5), stars=600)]
    upsert_repositories(con, records, SEEN)
    record_observations(con, 1, records, SEEN)
    record_observations(con, 1, records, SEEN)
    record_observations(con, 2, [repo(1, "a/one", datetime(2023, 1, 5), stars=650)], SEEN)
    rows = con.execute("SELECT run_id, stars FROM observations ORDER BY run_id").fetchall()
    assert rows == [(1, 600), (2, 650)]


def test_current_label_follows_precedence_and_history_is_kept(
    con: duckdb.DuckDBPyConnection,
) -> None:
    upsert_repositories(con, [repo(1, "a/one", datetime(2023, 1, 5))], SEEN)
    insert_labels(con, [label(1, "models", "model", datetime(2026, 1, 1))])
    insert_labels(con, [label(1, "applications", "human", datetime(2026, 2, 1))])
    insert_labels(con, [label(1, "infrastructure", "llm", datetime(2026, 3, 1))])
    current = current_label(con, 1)
    assert current is not None and current["category"] == "applications"
    earlier = label_as_of(con, 1, datetime(2026, 1, 15))
    assert earlier is not None and earlier["category"] == "models"
    assert len(label_history(con, 1)) == 3


def test_unknown_label_method_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="unknown label method"):
        insert_labels(con, [label(1, "models", "guess", SEEN)])


def test_monthly_counts_are_cumulative_with_empty_months(con: duckdb.DuckDBPyConnection) -> None:
    upsert_repositories(
        con,
        [repo(1, "a/one", datetime(2023, 1, 5)), repo(2, "a/two", datetime(2023, 4, 9)),
         repo(3, "a/three", datetime(2023, 4, 20))],
        SEEN,
    )
    insert_labels(con, [label(i, "models", "model", SEEN) for i in (1, 2, 3)])
    frame = monthly_counts(con, category="models")
    assert frame["month"].head(4).dt.month().to_list() == [1, 2, 3, 4]
    assert frame["new_repos"].head(4).to_list() == [1, 0, 0, 2]
    assert frame["cumulative_repos"].head(4).to_list() == [1, 1, 1, 3]
    # the series runs on, flat, to the current month
    assert frame["month"].max() == date.today().replace(day=1)
    assert set(frame["cumulative_repos"].tail(-4).to_list()) == {3}
    assert int(frame["new_repos"].sum()) == 3
    summary = category_summary(con).rows()
    assert summary == [("model", "models", 3)]


def test_missing_read_only_database_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        connect(tmp_path / "nope.duckdb", read_only=True)
