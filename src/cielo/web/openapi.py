"""Pieces of an OpenAPI 3.1 document that FastAPI cannot read from a route's signature (its
routes parse their own requests, see ``routing.LeanRoute``), and the last touches to the
application's document: security schemes and tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def parameter(name: str, where: str, description: str, schema: dict[str, Any], *, required: bool = False,
              example: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "in": where, "required": required or where == "path",
                             "description": description, "schema": schema}
    if example is not None:
        found["example"] = example
    return found


def header(description: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


_DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string", "minLength": 1}}}


def _validation_answers_400(document: dict[str, Any]) -> None:
    """FastAPI documents a 422 ``HTTPValidationError`` for every route it validates; this
    application answers those requests 400 ``{"detail": sentence}`` (app.py's validation
    handler), so the document says that instead."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.get("responses", {})
            schema = answers.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref", "").endswith("/HTTPValidationError"):
                del answers["422"]
                answers.setdefault("400", {"description": "A parameter or the body is not valid; the sentence says which.",
                                           "content": {"application/json": {"schema": _DETAIL}}})
    schemas = document.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in repr(document.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


def finish_document(app: FastAPI, *, security_schemes: dict[str, dict[str, Any]],
                    tags: list[dict[str, str]], finishers: tuple[Callable[[dict[str, Any]], None], ...] = ()) -> None:
    """/openapi.json as FastAPI generates it from the routes, with the security schemes the
    routes' ``security`` names, a description for each tag, and the 400 this application
    answers where FastAPI would have answered 422, then what each ``finisher`` adds (FastAPI's
    documented way: replacing ``app.openapi``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {})
            components.setdefault("securitySchemes", {}).update(security_schemes)
            document["tags"] = tags
            _validation_answers_400(document)
            for finish in finishers:
                finish(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
