"""The Promotions API's two error shapes (API.md §2), produced here and nowhere else.

400, 401, 403, 404, 405, 413, 415, 429, 502, 504 → a JSON string holding a full sentence
(502: the database could not be reached).
412, 422, 500 → ``{"code": "<STABLE_UPPER_SNAKE_CODE>", "description": "<sentence>"}``.
A mandatory parameter or body field that is absent is a 422; one present but invalid, empty
included, a 400 (:func:`given`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from cielo.web.http import JSONResponse

OBJECT_STATUSES = {412, 422, 500}
DEFAULT_CODES = {412: "PRECONDITION_FAILED", 422: "MISSING_PARAMETER", 500: "INTERNAL_ERROR"}
INTERNAL = "An unexpected error occurred; please try again later."


class PromoError(Exception):
    """An answer of the Promotions API other than success."""

    def __init__(self, status_code: int, description: str, *, code: str | None = None, headers=None) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.description = description
        self.code = code or DEFAULT_CODES.get(status_code)
        self.headers = headers or {}


def missing(name: str, where: str = "query parameter") -> PromoError:
    """An absent mandatory parameter: 422 (a missing credential is a 401, see access.py)."""
    return PromoError(422, f"The '{name}' {where} is mandatory.", code="MISSING_PARAMETER")


def invalid(sentence: str) -> PromoError:
    return PromoError(400, sentence)


_ABSENT: Any = object()


def given(source: Mapping, name: str, *, required: bool, where: str = "query parameter") -> Any:
    """A parameter's or body field's value, the one rule of API.md §2 for every field: absent,
    None (422 MISSING_PARAMETER when ``required``); present but empty, or null in a body, 400
    (the value, whatever it is, is then the caller's to check)."""
    value = source.get(name, _ABSENT)
    if value is _ABSENT:
        if required:
            raise missing(name, where)
        return None
    if value is None or value == "":
        instead = "give it a value" if required else "give it a value or leave it out"
        raise invalid(f"The '{name}' {where} is {'null' if value is None else 'empty'}; {instead}.")
    return value


def render(status_code: int, description: str, code: str | None = None, headers=None) -> Response:
    if status_code == 503:  # the seed has no 503: a gateway that cannot reach what is behind it says 502
        status_code = 502
    if status_code >= 500 and status_code not in (502, 504):
        status_code, description, code = 500, INTERNAL, "INTERNAL_ERROR"
    body: dict[str, str] | str
    if status_code in OBJECT_STATUSES:
        body = {"code": code or DEFAULT_CODES[status_code], "description": description}
    else:
        body = description
    return JSONResponse(body, status_code=status_code, headers=headers)


def error_response(status_code: int, message: str) -> Response:
    """The error style for errors raised outside the API's own code (404, 405, 413, 500)."""
    return render(status_code, message)


def promo_error_response(exc: PromoError) -> Response:
    return render(exc.status_code, exc.description, exc.code, exc.headers)
