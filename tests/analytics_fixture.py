"""A small warehouse whose analytics are computed by hand (see ``tests/test_analytics.py``).

Three crawls (2024-02-15, 2024-04-20, 2024-05-20; data date 2024-05-20), threshold 500:

| id | repo | created | label | stars per crawl | crossed |
|----|------|---------|-------|-----------------|---------|
| 1 | a/one | 2024-01-15 | models / language | 400, 600, 900 | 2024-04 (obs.) |
| 2 | b/two | 2024-01-10 | app-development / (none) | 700, 750, 800 | unknown |
| 3 | c/three (TS) | 2023-11-05 | app-development / agents | 1000, 1100, 1500 | 2024-01 (history)|
| 4 | d/four | 2024-04-03 | infrastructure / serving | -, 550, 2000 | 2024-04 (created)|
| 5 | e/five | 2024-01-01 | other | 5000, 5000, 5000 | unknown |
| 6 | f/six | 2024-02-01 | models (vanished) | 800, -, - | not counted |
| 7 | g/seven | 2024-03-01 | (unlabelled) | 900, 900, 900 | not counted |
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from tests.factories import add_label, add_repositories, make_repo
from warehouse.crawls import save_milestone
from warehouse.repos import VANISHED, set_status

CRAWLS = (datetime(2024, 2, 15, 6), datetime(2024, 4, 20, 6), datetime(2024, 5, 20, 6))
DATA_DATE = date(2024, 5, 20)

_REPOS = {
    1: ("a/one", date(2024, 1, 15), "Python", (400, 600, 900)),
    2: ("b/two", date(2024, 1, 10), "Python", (700, 750, 800)),
    3: ("c/three", date(2023, 11, 5), "TypeScript", (1000, 1100, 1500)),
    4: ("d/four", date(2024, 4, 3), "Python", (None, 550, 2000)),
    5: ("e/five", date(2024, 1, 1), "Go", (5000, 5000, 5000)),
    6: ("f/six", date(2024, 2, 1), "Python", (800, None, None)),
    7: ("g/seven", date(2024, 3, 1), "Python", (900, 900, 900)),
}
_LABELS = {
    1: ("models", "language"),
    2: ("app-development", None),
    3: ("app-development", "agents"),
    4: ("infrastructure", "serving"),
    5: ("other", None),
    6: ("models", "language"),
}


def seed_analytics(con: duckdb.DuckDBPyConnection) -> None:
    for run, seen_at in enumerate(CRAWLS, start=1):
        records = [
            make_repo(repo_id, name, created=created, stars=stars[run - 1], language=language)
            for repo_id, (name, created, language, stars) in _REPOS.items()
            if stars[run - 1] is not None
        ]
        add_repositories(con, records, seen_at=seen_at, run_id=run)
    set_status(con, [6], VANISHED, CRAWLS[-1])
    save_milestone(con, 3, 500, date(2024, 1, 20), "stargazers_history", CRAWLS[0])
    for repo_id, (category, subcategory) in _LABELS.items():
        add_label(con, repo_id, category, subcategory=subcategory, created_at=CRAWLS[0])
