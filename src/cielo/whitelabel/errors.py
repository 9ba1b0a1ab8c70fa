"""The white-label API's error shapes, produced here and nowhere else."""

from __future__ import annotations

from cielo.web.http import JSONResponse, hides_detail

UNAUTHORIZED_DETAIL = "Unauthorized Request: Bearer <token>"
INTERNAL_ERROR = "An internal server error has occurred. Please reach out to cielo24 support for assistance."
MISSING_NAME = "Request body is missing the 'canvas_space_name' key or its value."
MISSING_KEYS = "Request body is missing the 'api_key' and/or 'api_secret' key."


def not_integrated(name: str) -> str:
    return f"The '{name}' space name is not integrated."


def not_integrated_change(name: str) -> str:
    return f"The '{name}' space name is not integrated, so it can not be changed."


def already_integrated(name: str) -> str:
    return f"The '{name}' space name is already integrated. Please modify or delete it."


class WhiteLabelError(Exception):
    """A request the API answers with ``{"error": message}``."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class WhiteLabelUnauthorized(Exception):
    """Any token problem: answered 403 with the fixed detail text, never the token."""


def error_response(status_code: int, message: str) -> JSONResponse:
    if hides_detail(status_code):
        message = INTERNAL_ERROR
    return JSONResponse({"error": message}, status_code=status_code)


def unauthorized_response() -> JSONResponse:
    return JSONResponse({"detail": UNAUTHORIZED_DETAIL}, status_code=403)
