"""GitHub repository-search queries (`q=`) parsed and evaluated against a snapshot.

Supported, as on GitHub: free keywords and "quoted phrases" (AND, case-insensitive, matched as
whole words in the name, description and topics; a trailing s/es is forgiven, a crude stand-in for
GitHub's stemming), ``in:name,description,topics``, ``stars:`` and ``forks:`` (``>=N``, ``>N``,
``<N``, ``<=N``, ``N``, ``A..B``, ``A..*``, ``*..B``), ``created:`` and ``pushed:`` with the same
operators on ``YYYY-MM-DD`` dates, ``topic:``, ``language:``, ``user:``/``org:``/``repo:``,
``is:public|private``, ``fork:true|false|only``, ``archived:true|false``, ``topics:N``, and the
operators ``OR`` and ``NOT`` between keywords.
A leading ``-`` negates a qualifier. Anything else that looks like ``word:value`` is an unknown
qualifier and raises QueryError (the server answers 422, like GitHub).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from standins.github.snapshot import SnapshotRepo

SORT_KEYS = ("stars", "forks", "updated", "help-wanted-issues")
_WORD = re.compile(r"[a-z0-9]+")
_QUALIFIER = re.compile(r"(-?)([A-Za-z_-]+):(.*)")


class QueryError(ValueError):
    """The query cannot be parsed; the server turns it into GitHub's 422 "Validation Failed"."""


@dataclass(frozen=True)
class Bound:
    """A range of ints or dates; None means open. Both ends inclusive."""

    low: Any = None
    high: Any = None

    def contains(self, value: Any) -> bool:
        if value is None:
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class Condition:
    """One qualifier: a test on a repository, possibly negated."""

    text: str
    test: Callable[[SnapshotRepo], bool]
    negated: bool = False

    def matches(self, repo: SnapshotRepo) -> bool:
        return self.test(repo) != self.negated


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: keyword groups and qualifier conditions.

    Each group is a tuple of alternative phrases (``a OR b``), each phrase a tuple of words; every
    group must match, no excluded phrase (``NOT a``) may.
    """

    groups: tuple[tuple[tuple[str, ...], ...], ...] = ()
    excluded: tuple[tuple[str, ...], ...] = ()
    conditions: tuple[Condition, ...] = ()
    fields: frozenset[str] = frozenset({"name", "description", "topics"})
    languages: tuple[str, ...] = field(default=())

    def matches(self, repo: SnapshotRepo) -> bool:
        if self.languages and (repo.language or "").lower() not in self.languages:
            return False
        if not all(c.matches(repo) for c in self.conditions):
            return False
        if not self.groups and not self.excluded:
            return True
        if any(self._has(repo, phrase) for phrase in self.excluded):
            return False
        return all(any(self._has(repo, p) for p in group) for group in self.groups)

    def _has(self, repo: SnapshotRepo, phrase: tuple[str, ...]) -> bool:
        if len(phrase) == 1:
            return not _forms(phrase[0]).isdisjoint(_word_set(repo, self.fields))
        return _has_phrase(searchable_words(repo, self.fields), phrase)


# ---------------------------------------------------------------------------------- text matching


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@lru_cache(maxsize=100_000)
def searchable_words(repo: SnapshotRepo, fields: frozenset[str]) -> list[list[str]]:
    """Word sequences of each searched field; the name also counts as one whole word."""
    texts: list[list[str]] = []
    if "name" in fields:
        texts.append([*words_of(repo.name), repo.name.lower()])
    if "description" in fields and repo.description:
        texts.append(words_of(repo.description))
    if "topics" in fields:
        texts.extend([*words_of(topic), topic.lower()] for topic in repo.topics)
    return texts


@lru_cache(maxsize=100_000)
def _word_set(repo: SnapshotRepo, fields: frozenset[str]) -> frozenset[str]:
    return frozenset(word for words in searchable_words(repo, fields) for word in words)


def _forms(keyword: str) -> set[str]:
    """The words a keyword matches (see _same_word)."""
    forms = {keyword, keyword + "s", keyword + "es"}
    if keyword.endswith("s"):
        forms.add(keyword[:-1])
    return forms


def _same_word(word: str, keyword: str) -> bool:
    return word == keyword or word in (keyword + "s", keyword + "es") or keyword == word + "s"


def _has_phrase(texts: list[list[str]], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    for words in texts:
        for start in range(len(words) - size + 1):
            if all(_same_word(words[start + i], phrase[i]) for i in range(size)):
                return True
    return False


# ---------------------------------------------------------------------------------- ranges


def _parse_int(text: str) -> int:
    if not text.isdigit():
        raise QueryError(f"invalid number {text!r}")
    return int(text)


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise QueryError(f"invalid date {text!r}, expected YYYY-MM-DD") from None


def _int_bound(text: str) -> Bound:
    return _bound(text, _parse_int, lambda v: v + 1, lambda v: v - 1)


def _date_bound(text: str) -> Bound:
    one_day = timedelta(days=1)
    return _bound(text, _parse_day, lambda d: d + one_day, lambda d: d - one_day)


def _bound(
    text: str,
    parse: Callable[[str], Any],
    after: Callable[[Any], Any],
    before: Callable[[Any], Any],
) -> Bound:
    """Turn >=X, >X, <=X, <X, X..Y, X..*, *..Y or X into an inclusive Bound."""
    for prefix, make in (
        (">=", lambda v: Bound(low=v)),
        ("<=", lambda v: Bound(high=v)),
        (">", lambda v: Bound(low=after(v))),
        ("<", lambda v: Bound(high=before(v))),
    ):
        if text.startswith(prefix):
            return make(parse(text[len(prefix) :]))
    if ".." in text:
        low, high = text.split("..", 1)
        return Bound(
            low=None if low in ("", "*") else parse(low),
            high=None if high in ("", "*") else parse(high),
        )
    value = parse(text)
    return Bound(low=value, high=value)


# ---------------------------------------------------------------------------------- qualifiers


def _bool_value(key: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise QueryError(f"{key}: expects true or false, not {value!r}")
    return value.lower() == "true"


def _condition(key: str, value: str) -> Callable[[SnapshotRepo], bool]:
    """The test of one qualifier; QueryError for unknown qualifiers or bad values."""
    lowered = value.lower()
    if key == "stars":
        stars = _int_bound(value)
        return lambda r: stars.contains(r.stars)
    if key == "forks":
        forks = _int_bound(value)
        return lambda r: forks.contains(r.forks or 0)
    if key == "created":
        created = _date_bound(value)
        return lambda r: created.contains(r.created_at)
    if key == "pushed":
        pushed = _date_bound(value)
        return lambda r: pushed.contains(r.pushed_at or r.created_at)
    if key == "topics":
        count = _int_bound(value)
        return lambda r: count.contains(len(r.topics))
    if key == "topic":
        return lambda r: lowered in (t.lower() for t in r.topics)
    if key in ("user", "org"):
        return lambda r: r.owner.lower() == lowered
    if key == "repo":
        return lambda r: r.full_name.lower() == lowered
    if key == "is":
        if lowered not in ("public", "private"):
            raise QueryError(f"is:{value} is not supported (use is:public)")
        return lambda r: lowered == "public"
    if key == "fork":
        if lowered == "only":
            return lambda r: False  # snapshots hold no forks
        _bool_value(key, value)
        return lambda r: True
    if key == "archived":
        archived = _bool_value(key, value)
        return lambda r: r.archived == archived
    raise QueryError(f"unknown qualifier {key}:")


def _tokens(q: str) -> list[str]:
    lexer = shlex.shlex(q, posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        raise QueryError("unbalanced quotes in query") from None


def parse_query(q: str) -> SearchQuery:
    """Parse GitHub repository-search syntax; raise QueryError on anything GitHub would refuse."""
    if not q or not q.strip():
        raise QueryError("the q parameter is missing or empty")
    groups: list[list[tuple[str, ...]]] = []
    excluded: list[tuple[str, ...]] = []
    pending: str | None = None  # "OR" or "NOT" waiting for the next phrase
    conditions: list[Condition] = []
    languages: list[str] = []
    fields = frozenset({"name", "description", "topics"})
    for token in _tokens(q):
        match = _QUALIFIER.fullmatch(token)
        if match is None or not match.group(3):
            if token in ("AND", "OR", "NOT"):
                pending = None if token == "AND" else token
                continue
            words = tuple(words_of(token))
            if not words:
                continue
            if pending == "NOT":
                excluded.append(words)
            elif pending == "OR" and groups:
                groups[-1].append(words)
            else:
                groups.append([words])
            pending = None
            continue
        negated, key, value = match.group(1) == "-", match.group(2).lower(), match.group(3)
        if key == "in":
            fields = _in_fields(value)
        elif key == "language" and not negated:
            languages.append(value.lower())
        elif key == "language":
            conditions.append(Condition(token, _language_test(value), negated=True))
        else:
            conditions.append(Condition(token, _condition(key, value), negated))
    return SearchQuery(
        tuple(tuple(g) for g in groups),
        tuple(excluded),
        tuple(conditions),
        fields,
        tuple(languages),
    )


def _language_test(value: str) -> Callable[[SnapshotRepo], bool]:
    return lambda r: (r.language or "").lower() == value.lower()


def _in_fields(value: str) -> frozenset[str]:
    chosen = frozenset(v.strip().lower() for v in value.split(",") if v.strip())
    known = {"name", "description", "topics", "readme"}
    if not chosen or not chosen <= known:
        raise QueryError(f"in:{value} is not valid; use name, description, topics or readme")
    return chosen


# ---------------------------------------------------------------------------------- searching


def _sort_key(sort: str | None) -> Callable[[SnapshotRepo], Any]:
    if sort == "forks":
        return lambda r: r.forks or 0
    if sort == "updated":
        return lambda r: r.pushed_at or r.created_at
    if sort == "help-wanted-issues":
        return lambda r: 0
    return lambda r: r.stars  # stars, and "best match" (stars desc is close enough offline)


def search_repos(
    repos: Iterable[SnapshotRepo],
    query: SearchQuery | str,
    sort: str | None = None,
    order: str | None = None,
) -> list[SnapshotRepo]:
    """All repos matching the query, sorted like GitHub; ties broken by id (ascending)."""
    if isinstance(query, str):
        query = parse_query(query)
    found = [repo for repo in repos if query.matches(repo)]
    key = _sort_key(sort if sort in SORT_KEYS else None)
    ascending = sort in SORT_KEYS and (order or "desc").lower() == "asc"
    found.sort(key=lambda r: r.id)
    found.sort(key=key, reverse=not ascending)
    return found
