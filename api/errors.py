"""One JSON error shape for every failure: ``{"error": {"code", "message", "hint"}}``."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import duckdb
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stackatlas.errors import StackatlasError
from warehouse.db import database_error

log = logging.getLogger(__name__)


class InvalidParameterError(StackatlasError):
    """A request parameter has a value outside what the endpoint accepts."""

    http_status = 422

    def __init__(self, parameter: str, value: object, hint: str) -> None:
        super().__init__(f"invalid value {value!r} for parameter '{parameter}'", hint)
        self.parameter = parameter

    @classmethod
    def outside(
        cls, parameter: str, value: object, allowed: Sequence[str]
    ) -> InvalidParameterError:
        return cls(parameter, value, f"allowed: {', '.join(allowed)}")


class WritesDisabledError(StackatlasError):
    """A write endpoint was called while the server has no API key configured."""

    http_status = 503


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_parameter",
    503: "unavailable",
}


def error_body(code: str, message: str, hint: str = "") -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "hint": hint}}


_CODE_OVERRIDES = {"AuthError": "unauthorized", "StackatlasError": "error"}


def error_code(exc: StackatlasError) -> str:
    """``NotFoundError`` → ``not_found``, ``AuthError`` → ``unauthorized``."""
    class_name = type(exc).__name__
    if class_name in _CODE_OVERRIDES:
        return _CODE_OVERRIDES[class_name]
    name = class_name.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _stackatlas_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StackatlasError)
    if exc.http_status >= 500:
        log.error("request failed: %s", exc.one_line())
    return JSONResponse(
        error_body(error_code(exc), exc.message, exc.hint), status_code=exc.http_status
    )


def _describe_validation_problem(problem: dict[str, Any]) -> str:
    location = [str(part) for part in problem.get("loc", ())]
    where, name = (location[0], ".".join(location[1:])) if location else ("request", "")
    if where == "query":  # a repeated parameter's position is noise: name the parameter
        name = location[1] if len(location) > 1 else name
    place = {"query": "query parameter", "path": "path parameter", "header": "header"}.get(
        where, "field" if where == "body" else where
    )
    subject = f"{place} '{name}'" if name else place
    value = problem.get("input")
    shown = f" (got {value!r})" if value is not None and where != "body" else ""
    return f"{subject}: {problem.get('msg', 'invalid')}{shown}"


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe_validation_problem(p) for p in exc.errors()]
    return JSONResponse(
        error_body(
            "invalid_parameter",
            "; ".join(problems) or "invalid request",
            "fix the named parameter; /docs or /openapi.json lists what each endpoint accepts",
        ),
        status_code=422,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no such resource: {request.url.path}"
        hint = "see /v1 for the endpoints"
    else:
        message, hint = str(exc.detail), ""
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, message, hint), status_code=exc.status_code, headers=exc.headers
    )


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A DuckDB failure (full disk, damaged file) in the error shape: 507 or 500, one line."""
    assert isinstance(exc, duckdb.Error)
    return _stackatlas_error(request, database_error(exc))


def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error while serving a request", exc_info=exc)
    return JSONResponse(
        error_body("internal", "internal server error", "see the server log"), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StackatlasError, _stackatlas_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(duckdb.Error, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)


ERROR_DESCRIPTIONS = {
    304: "Not modified: the `If-None-Match` ETag is current (no body).",
    400: "Bad request.",
    401: "Missing or wrong `X-API-Key`.",
    403: "Forbidden.",
    404: "No such resource.",
    405: "Method not allowed.",
    409: "Conflict.",
    414: "The URL is too long.",
    422: "A parameter or the body is invalid; the message names it.",
    500: "Unexpected server error.",
    502: "An upstream service (GitHub, the LLM) failed.",
    503: "Unavailable (for writes: no API key configured).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting ``statuses`` with the one error body."""
    from api.schemas import ErrorResponse

    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS.get(status, "Error.")}
        for status in statuses
    }
