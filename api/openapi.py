"""An OpenAPI schema that tells the truth about what the server answers.

FastAPI documents a 422 body as ``{"detail": [...]}``; this server answers every error as
``{"error": {"code", "message", "hint"}}``. ``install_truthful_openapi`` rewrites the generated
schema once: every error status uses ``ErrorResponse``, and every operation lists the statuses
the HTTP layer adds around the routes (304 on GETs with ``If-None-Match``, 414 for an over-long
URL, 500, and 404 on paths naming a resource).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.errors import ERROR_DESCRIPTIONS
from api.schemas import ErrorDetail, ErrorResponse

_REF_TEMPLATE = "#/components/schemas/{model}"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_FASTAPI_ERROR_MODELS = ("HTTPValidationError", "ValidationError")


def _error_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or ERROR_DESCRIPTIONS.get(status, "Error."),
        "content": {"application/json": {"schema": _ERROR_REF}},
    }


def _fix_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "{" in path:  # a path naming a resource answers 404 when there is none
        responses.setdefault("404", {"description": ERROR_DESCRIPTIONS[404]})
    for status, response in list(responses.items()):
        if status.isdigit() and int(status) >= 400:
            responses[status] = _error_response(int(status), response.get("description"))
    if method == "get":
        responses.setdefault("304", {"description": ERROR_DESCRIPTIONS[304]})
    responses.setdefault("414", _error_response(414))
    responses.setdefault("500", _error_response(500))


def truthful_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (FastAPI's) with the real error body and the statuses of the HTTP layer."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorDetail, ErrorResponse):
        components[model.__name__] = model.model_json_schema(ref_template=_REF_TEMPLATE)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _fix_operation(path, method, operation)
    for name in _FASTAPI_ERROR_MODELS:
        components.pop(name, None)
    return schema


def install_truthful_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_schema(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
