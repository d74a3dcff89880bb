"""The writers' report: every number in the text equals the CSVs; charts, alt text, citation."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from dashboards.report import ReportRequest, build_report
from stackatlas.main import app as cli_app
from stackatlas.settings import Settings
from tests.factories import add_label
from tests.population import seed_population
from warehouse.analytics import refresh_analytics
from warehouse.releases import publish_release

NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?%?")


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def num(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def findings_lines(markdown: str) -> list[str]:
    section = markdown.split("## Headline findings", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in section.strip().splitlines() if line.startswith("- ")]


def check_line(line: str, data: Path) -> int:
    """Compare each number of one finding with its CSV row; returns how many were compared."""
    layers = {r["layer"]: r for r in read_csv(data / "layers.csv")}
    categories = read_csv(data / "categories.csv")
    new = {r["full_name"]: r for r in read_csv(data / "new_repositories.csv")}
    changes = {r["layer"]: r for r in read_csv(data / "changes.csv")}
    if match := re.match(r"Total: ([\d,]+) AI .* up from ([\d,]+) before", line):
        assert num(match[1]) == sum(int(r["repos_end"]) for r in layers.values())
        assert num(match[2]) == sum(int(r["repos_start"]) for r in layers.values())
        return 2
    if match := re.match(r"Layer (\S+): ([\d,]+) repositories, ([\d,]+) added .* \(([-+\d.]+)%\)",
                         line):  # fmt: skip
        row = layers[match[1]]
        assert (num(match[2]), num(match[3])) == (int(row["repos_end"]), int(row["added"]))
        assert num(match[4]) == float(row["growth_pct"])
        return 3
    if match := re.match(r"Fastest-growing category #(\d): (\S+) \((\S+)\), ([\d,]+) → ([\d,]+) "
                         r"\(([-+\d.]+)%\)", line):  # fmt: skip
        row = [r for r in categories if r["growth_pct"]][int(match[1]) - 1]
        assert (match[2], match[3]) == (row["category"], row["layer"])
        assert num(match[4]) == int(row["repos_start"]) and num(match[5]) == int(row["repos_end"])
        assert num(match[6]) == float(row["growth_pct"])
        return 3
    if match := re.match(r"Big new repository: (\S+) \((\S+)\), created (\S+), ([\d,]+) stars",
                         line):  # fmt: skip
        row = new[match[1]]
        assert (match[2], match[3], num(match[4])) == (row["category"], row["created"],
                                                       int(row["stars"]))  # fmt: skip
        return 2
    change = r"Since release \S+: layer (\S+) ([\d,]+) → ([\d,]+) \(([-+\d,]+)\)"
    if match := re.match(change, line):
        row = changes[match[1]]
        assert (num(match[2]), num(match[3]), num(match[4])) == (
            int(row["previous"]), int(row["current"]), int(row["change"]))  # fmt: skip
        return 3
    assert line.startswith("Changes since the previous release: none"), line
    return 0


@pytest.fixture
def released(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Two releases: the second after more labels, so that there are changes to report."""
    seed_population(con, 200)
    refresh_analytics(con)
    publish_release(con, {"threshold": 500, "model": {"category_accuracy": 0.81}},
                    now=datetime(2026, 11, 2, 8))  # fmt: skip
    for repo_id in range(1, 11):
        add_label(con, repo_id, "infrastructure", method="human")
    refresh_analytics(con)
    publish_release(con, {"threshold": 500, "model": {"category_accuracy": 0.82}},
                    now=datetime(2026, 11, 3, 8))  # fmt: skip
    return con


def test_every_number_in_the_findings_equals_the_csvs(
    released: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    request = ReportRequest(start=date(2024, 1, 1), end=date(2026, 11, 1))
    findings = build_report(released, tmp_path, request)
    assert findings.context.release == "2026-11-03.1"
    assert findings.previous_release == "2026-11-02.1"
    markdown = (tmp_path / "report.md").read_text()
    lines = findings_lines(markdown)
    compared = sum(check_line(line, tmp_path / "data") for line in lines)
    assert compared >= 20 and any(line.startswith("Since release 2026-11-02.1") for line in lines)
    # the numbers of the findings stand in the HTML as well
    page = (tmp_path / "report.html").read_text()
    for line in lines:
        for number in NUMBER.findall(line):
            assert number in page


def test_the_bundle_has_charts_alt_text_greyscale_csvs_and_citation(
    released: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    build_report(released, tmp_path, ReportRequest(release="2026-11-02.1"))
    charts = sorted(p.name for p in (tmp_path / "charts").iterdir())
    for slug in ("stack-category", "share-layer", "new-layer"):
        for suffix in ("", "-grey"):
            assert f"{slug}{suffix}.png" in charts and f"{slug}{suffix}.svg" in charts
        assert (tmp_path / "data" / f"chart-{slug}.csv").exists()
    png = (tmp_path / "charts" / "stack-category.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    grey_svg = (tmp_path / "charts" / "stack-category-grey.svg").read_text()
    assert "#0072B2".lower() not in grey_svg.lower()  # no colour in the greyscale variant
    page = (tmp_path / "report.html").read_text()
    alts = re.findall(r"<img src='charts/[^']+' alt='([^']+)'", page)
    assert len(alts) == 3 and all("In 20" in a or "busiest month" in a for a in alts)
    citation = (tmp_path / "CITATION.txt").read_text()
    assert "release 2026-11-02.1" in citation and "/v1/releases/2026-11-02.1" in citation
    markdown = (tmp_path / "report.md").read_text()
    assert "model.category_accuracy: 0.81" in markdown and "threshold: 500" in markdown
    assert "first release" in markdown  # 2026-11-02.1 had no predecessor


def test_report_of_a_release_stays_the_same_after_later_changes(
    released: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    request = ReportRequest(release="2026-11-02.1", start=date(2024, 1, 1))
    build_report(released, tmp_path / "a", request)
    for repo_id in range(11, 31):
        add_label(released, repo_id, "lists", method="human")
    refresh_analytics(released)
    build_report(released, tmp_path / "b", request)
    for name in ("layers.csv", "categories.csv", "chart-stack-category.csv"):
        assert (tmp_path / "a" / "data" / name).read_text() == (
            tmp_path / "b" / "data" / name).read_text()  # fmt: skip


def test_report_command(released: duckdb.DuckDBPyConnection, db_path: Path,
                        tmp_path: Path) -> None:  # fmt: skip
    released.close()
    out = tmp_path / "bundle"
    runner = CliRunner()
    result = runner.invoke(cli_app, ["report", "--out", str(out), "--db", str(db_path),
                                     "--from", "2025-01", "--to", "2026-06"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2026-11-03.1" in result.output and "2025-01 to 2026-06" in result.output
    assert "2025-01 to 2026-06" in (out / "report.md").read_text()
    bad = runner.invoke(cli_app, ["report", "--out", str(out), "--db", str(db_path),
                                  "--from", "2025-13"])  # fmt: skip
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output
    missing = runner.invoke(cli_app, ["report", "--out", str(out), "--db", str(db_path),
                                      "--release", "1999-01-01.1"])  # fmt: skip
    assert missing.exit_code != 0 and "Traceback" not in missing.output


@pytest.fixture
def client(released: duckdb.DuckDBPyConnection, db_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(db=db_path), connection=released)) as test_client:
        yield test_client


def test_report_zip_endpoint(client: TestClient) -> None:
    response = client.get("/v1/reports/latest.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="stackatlas-report-2026-11-03.1.zip"' in response.headers[
        "content-disposition"]  # fmt: skip
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "stackatlas-report-2026-11-03.1/report.md" in names
    assert "stackatlas-report-2026-11-03.1/charts/share-layer-grey.svg" in names
    assert client.get("/v1/reports/1999-01-01.1.zip").status_code == 404
    assert client.get("/v1/reports/latest.zip?from=2025-05&to=2025-01").status_code == 422
