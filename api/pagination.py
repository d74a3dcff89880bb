"""Cursor pagination: an opaque token holding the sort and the last row's sort value and id."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from fastapi import Request

from api.errors import InvalidParameterError
from warehouse.queries import Keyset

_TIME_SORTS = frozenset({"created", "pushed"})
_TEXT_SORTS = frozenset({"name"})
_HINT = "pass the next_cursor of the previous page unchanged, with the same sort"


def encode_cursor(sort: str, value: Any, row_id: int) -> str:
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([sort, shown, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> Keyset:
    """The keyset in ``token``; a 422 when it is malformed or was made for another sort."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        token_sort, value, row_id = json.loads(raw)
        keyset = Keyset(_value(token_sort, value), _integer(row_id))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidParameterError("cursor", token, _HINT) from exc
    if token_sort != sort:
        raise InvalidParameterError("cursor", token, f"it was made for sort={token_sort}; {_HINT}")
    return keyset


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        raise ValueError("not a 64-bit integer")
    return value


def _value(sort: str, value: Any) -> Any:
    if value is None:
        return None
    if sort.lstrip("-") in _TIME_SORTS:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    if sort.lstrip("-") in _TEXT_SORTS:
        if not isinstance(value, str):
            raise ValueError("not a text")
        value.encode("utf-8")  # a lone surrogate cannot be compared in the database
        return value
    return _integer(value)


def next_url(request: Request, token: str | None) -> str | None:
    """This request's URL asking for the page after ``token`` (None: no next page)."""
    if token is None:
        return None
    return str(request.url.remove_query_params(["offset", "cursor"]).include_query_params(
        cursor=token
    ))
