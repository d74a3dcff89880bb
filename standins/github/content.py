"""What the replay server says about a repository: GitHub's JSON shapes, READMEs, star history.

Everything here is a pure, deterministic function of the SnapshotRepo (seeded by its id).
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from standins.github.snapshot import SnapshotRepo

GITHUB_WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"

_LICENSES: dict[str, tuple[str, str, str]] = {
    # lower-cased spelling -> (key, name, spdx_id)
    "mit": ("mit", "MIT License", "MIT"),
    "apache-2.0": ("apache-2.0", "Apache License 2.0", "Apache-2.0"),
    "bsd-3-clause": ("bsd-3-clause", 'BSD 3-Clause "New" or "Revised" License', "BSD-3-Clause"),
    "bsd-2-clause": ("bsd-2-clause", 'BSD 2-Clause "Simplified" License', "BSD-2-Clause"),
    "bsd-1-clause": ("bsd-1-clause", "BSD 1-Clause License", "BSD-1-Clause"),
    "gpl-3.0": ("gpl-3.0", "GNU General Public License v3.0", "GPL-3.0"),
    "gpl-2.0": ("gpl-2.0", "GNU General Public License v2.0", "GPL-2.0"),
    "agpl-3.0": ("agpl-3.0", "GNU Affero General Public License v3.0", "AGPL-3.0"),
    "lgpl-3.0": ("lgpl-3.0", "GNU Lesser General Public License v3.0", "LGPL-3.0"),
    "lgpl-2.1": ("lgpl-2.1", "GNU Lesser General Public License v2.1", "LGPL-2.1"),
    "mpl-2.0": ("mpl-2.0", "Mozilla Public License 2.0", "MPL-2.0"),
    "unlicense": ("unlicense", "The Unlicense", "Unlicense"),
    "cc0-1.0": ("cc0-1.0", "Creative Commons Zero v1.0 Universal", "CC0-1.0"),
    "cc-by-4.0": ("cc-by-4.0", "Creative Commons Attribution 4.0 International", "CC-BY-4.0"),
    "isc": ("isc", "ISC License", "ISC"),
    "other": ("other", "Other", "NOASSERTION"),
}
_LICENSE_BY_NAME = {name.lower(): entry for entry in _LICENSES.values() for name in entry[1:2]}


def license_json(text: str | None) -> dict[str, Any] | None:
    """GitHub's license object from an SPDX id or a license name; None when unknown/empty."""
    if not text:
        return None
    entry = _LICENSES.get(text.lower()) or _LICENSE_BY_NAME.get(text.lower())
    if entry is None:
        entry = (text.lower().replace(" ", "-"), text, "NOASSERTION")
    key, name, spdx = entry
    url = None if key == "other" else f"https://api.github.com/licenses/{key}"
    return {"key": key, "name": name, "spdx_id": spdx, "url": url, "node_id": _node_id("MDc", key)}


def _node_id(prefix: str, value: object) -> str:
    digest = hashlib.sha1(f"{prefix}:{value}".encode()).digest()[:9]
    return prefix + base64.b64encode(digest).decode().rstrip("=")


def _stable_int(value: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:8], "big") % modulo


def owner_id(login: str) -> int:
    return 1 + _stable_int("owner:" + login.lower(), 2**31)


def iso(day: date | None) -> str | None:
    return f"{day.isoformat()}T00:00:00Z" if day else None


def repo_json(repo: SnapshotRepo, base_url: str) -> dict[str, Any]:
    """The repository object as GitHub's search and repos endpoints return it."""
    base_url = base_url.rstrip("/")
    login = repo.owner
    org = _stable_int("type:" + login.lower(), 3) > 0
    pushed = repo.pushed_at or repo.created_at
    return {
        "id": repo.id,
        "node_id": _node_id("R_kgDO", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": False,
        "owner": {
            "login": login,
            "id": owner_id(login),
            "node_id": _node_id("MDEy", login.lower()),
            "type": "Organization" if org else "User",
            "html_url": f"{GITHUB_WEB}/{login}",
            "url": f"{base_url}/users/{login}",
            "site_admin": False,
        },
        "html_url": f"{GITHUB_WEB}/{repo.full_name}",
        "description": repo.description,
        "fork": False,
        "url": f"{base_url}/repos/{repo.full_name}",
        "created_at": iso(repo.created_at),
        "updated_at": iso(max(pushed, repo.last_seen)),
        "pushed_at": iso(pushed),
        "homepage": None,
        "size": 200 + _stable_int(f"size:{repo.id}", 200_000),
        "stargazers_count": repo.stars,
        "watchers_count": repo.stars,
        "forks_count": repo.forks or 0,
        "forks": repo.forks or 0,
        "language": repo.language,
        "license": license_json(repo.license),
        "topics": list(repo.topics),
        "archived": repo.archived,
        "disabled": False,
        "visibility": "public",
        "default_branch": "main" if repo.created_at >= date(2020, 10, 1) else "master",
        "open_issues_count": _stable_int(f"issues:{repo.id}", 1 + repo.stars // 50),
        "open_issues": _stable_int(f"issues:{repo.id}", 1 + repo.stars // 50),
        "watchers": repo.stars,
        "has_issues": True,
        "score": 1.0,
    }


# ---------------------------------------------------------------------------------------- README


def has_readme(repo: SnapshotRepo) -> bool:
    """About 5% of repos have no README (more among those without a description)."""
    share = 12 if not repo.description else 4
    return _stable_int(f"readme:{repo.id}", 100) >= share


def readme_text(repo: SnapshotRepo) -> str:
    """A plausible README generated from the repo's own facts."""
    rng = random.Random(repo.id)
    title = repo.name.replace("-", " ").replace("_", " ").title()
    description = repo.description or f"{title} by {repo.owner}."
    lines = [f"# {title}", "", description, ""]
    if repo.topics:
        lines += ["Topics: " + ", ".join(f"`{t}`" for t in repo.topics), ""]
    install = {
        "Python": f"pip install {repo.name.lower()}",
        "JavaScript": f"npm install {repo.name.lower()}",
        "TypeScript": f"npm install {repo.name.lower()}",
        "Rust": f"cargo add {repo.name.lower()}",
        "Go": f"go install github.com/{repo.full_name}@latest",
    }.get(repo.language or "", f"git clone https://github.com/{repo.full_name}")
    lines += ["## Installation", "", "```", install, "```", ""]
    features = rng.sample(
        [
            "Simple configuration through a single file.",
            "Well documented, with examples for common tasks.",
            "Runs on Linux, macOS and Windows.",
            "Extensible through plugins.",
            "Fast: written with performance in mind.",
            "Tested continuously; contributions welcome.",
            "Works offline once installed.",
        ],
        k=3,
    )
    lines += ["## Features", ""] + [f"- {f}" for f in features] + [""]
    lines += ["## License", "", f"{repo.license or 'See the LICENSE file'}.", ""]
    return "\n".join(lines)


def blob_sha(content: bytes) -> str:
    """The git blob sha, as GitHub reports for file contents."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def github_base64(content: bytes) -> str:
    """Base64 with a newline every 60 characters, as GitHub's contents API sends it."""
    encoded = base64.b64encode(content).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


def readme_json(repo: SnapshotRepo, base_url: str) -> tuple[dict[str, Any], str]:
    """The README contents object and its ETag."""
    content = readme_text(repo).encode()
    sha = blob_sha(content)
    base_url = base_url.rstrip("/")
    api_url = f"{base_url}/repos/{repo.full_name}/contents/README.md"
    html_url = f"{GITHUB_WEB}/{repo.full_name}/blob/main/README.md"
    git_url = f"{base_url}/repos/{repo.full_name}/git/blobs/{sha}"
    body = {
        "type": "file",
        "encoding": "base64",
        "size": len(content),
        "name": "README.md",
        "path": "README.md",
        "content": github_base64(content),
        "sha": sha,
        "url": api_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/main/README.md",
        "_links": {"self": api_url, "git": git_url, "html": html_url},
    }
    return body, f'W/"{sha}"'


# ---------------------------------------------------------------------------------- star history


def week_start(day: date) -> date:
    """The Sunday on or before day (GitHub's weeks start on Sunday)."""
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _share_out(total: int, weights: list[float]) -> list[int]:
    """Split total into integers proportional to weights (largest remainder), summing to total."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _weekly_weights(weeks: int, rng: random.Random) -> list[float]:
    """Launch spike, long tail, steady growth and a few bursts (e.g. a release or a blog post)."""
    decay = rng.uniform(3, 30)
    launch = rng.uniform(5, 40)
    steady = rng.uniform(0.3, 1.5)
    weights = [launch * math.exp(-i / decay) + steady * rng.uniform(0.6, 1.4) for i in range(weeks)]
    for _ in range(rng.randint(0, 3)):
        peak = rng.randrange(weeks)
        height = rng.uniform(5, 25)
        for i in range(peak, min(weeks, peak + 6)):
            weights[i] += height * math.exp(-(i - peak) / 1.5)
    return weights


@lru_cache(maxsize=4096)
def _history(repo_id: int, stars: int, created: date, until: date) -> tuple[dict[str, Any], ...]:
    rng = random.Random(repo_id)
    until = max(until, created)
    first, last = week_start(created), week_start(until)
    weeks = (last - first).days // 7 + 1
    weekly = _share_out(stars, _weekly_weights(weeks, rng))
    entries: list[dict[str, Any]] = []
    for index, count in enumerate(weekly):
        sunday = first + timedelta(weeks=index)
        day_weights = [
            0.0 if not created <= sunday + timedelta(days=d) <= until else rng.uniform(0.5, 1.5)
            for d in range(7)
        ]
        entries.append(
            {"week": sunday.isoformat(), "stars": count, "days": _share_out(count, day_weights)}
        )
    entries.reverse()  # newest week first
    return tuple(entries)


def star_history(repo: SnapshotRepo) -> list[dict[str, Any]]:
    """Weekly star counts, newest week first: ``{"week": Sunday, "stars": n, "days": [7 ints]}``.

    ``days`` runs Sunday to Saturday and sums to ``stars``; the weeks sum to the repo's current
    stargazers_count. Weeks span created_at to the snapshot's date (stars_as_of, else pushed_at).
    """
    return list(_history(repo.id, repo.stars, repo.created_at, repo.last_seen))
