"""What every back-office route group shares (API.md §4): the admin-scoped bearer token, the
bounded offset/limit of its lists, and the typed errors its services raise.

Each domain declares its own back-office routes (``promo/<domain>/admin_router.py``) on the
router :func:`admin_router` makes (the admin token, then a JSON body); its service does
the database work and raises :class:`Missing` or :class:`Refused`, which the application's one
handler answers as an ``HTTPException`` of the same status and detail would be."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BeforeValidator

from cielo.audit.service import Actor
from cielo.auth.service import covers
from cielo.numbers import ascii_digits
from cielo.promo.environments import Environment
from cielo.promo.pagination import MAX_OFFSET
from cielo.services import services
from cielo.web.http import NOT_JSON, sent_as_json

PREFIX = "/admin/v1"
TAG = "Back office"

# offset/limit of the back office's lists (bounded: an offset past any table is refused, not
# handed to the database, which cannot take an integer of any size)
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET), BeforeValidator(ascii_digits)]
Limit = Annotated[int, Query(ge=1, le=1000), BeforeValidator(ascii_digits)]


async def admin_actor(request: Request) -> Actor:
    """The admin-scoped token acting: 401 without a valid one, 403 for a valid token of another
    scope (it may not do this, API.md §2)."""
    actor, scope = await services(request).authenticator.identify(request.headers.get("authorization"))
    if actor is None:
        raise HTTPException(401, "A bearer token with the admin scope is required.", headers={"WWW-Authenticate": "Bearer"})
    if not covers(scope, "admin"):
        raise HTTPException(403, f"This token's scope ({scope}) does not cover the back office; it takes the admin scope.",
                            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"'})
    return actor


async def json_content(request: Request) -> None:
    """A body of another type than JSON is refused 415 with the Promotions API's sentence (API.md
    §2), before FastAPI reads it as a model (which would answer an unhelpful 400)."""
    if request.method in ("POST", "PUT", "PATCH") and not sent_as_json(request.headers):
        raise HTTPException(415, NOT_JSON)


_NOT_JSON = {
    "description": "The body is not sent as application/json.",
    "content": {"application/json": {"schema": {"type": "object", "required": ["detail"],
                                                "properties": {"detail": {"type": "string", "minLength": 1}}},
                                     "example": {"detail": NOT_JSON}}},
}


def admin_router() -> APIRouter:
    """A domain's back-office routes: the admin token first, then a JSON body (one without a
    Content-Type is read as JSON, as the Promotions API reads it)."""
    return APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(admin_actor), Depends(json_content)],
                     strict_content_type=False, responses={415: _NOT_JSON})


class BackOfficeError(Exception):
    """A back-office request refused, answered ``{"detail": …}`` with ``status_code``."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Missing(BackOfficeError):
    """No such row in this environment (404)."""

    status_code = 404


class Refused(BackOfficeError):
    """A request the rules refuse, with the sentence saying why (400)."""

    status_code = 400


_DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string", "minLength": 1}}}


def _answer(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _DETAIL}}}


def document_back_office(document: dict) -> None:
    """The answers every back-office operation can give besides its own, added to the served
    document: 401 without an admin token; 404 for an id in the path that names nothing in the
    environment; 413 and 415 for a body too large or not JSON."""
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(PREFIX + "/"):
            continue
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            answers.setdefault("401", _answer("No bearer token with the admin scope."))
            if any(p.get("in") == "path" and p.get("name") != "env" for p in operation.get("parameters", [])):
                answers.setdefault("404", _answer("Nothing with this id in this environment."))
            if "requestBody" in operation:
                answers.setdefault("413", _answer("The body is larger than the service accepts."))
                answers.setdefault("415", _answer("The body is not sent as application/json."))


def not_null(changes: dict, nullable: frozenset[str] | set[str] = frozenset()) -> None:
    """A PATCH may leave a field out, not set it to null (unless the column takes one)."""
    for field, value in changes.items():
        if value is None and field not in nullable:
            raise Refused(f"The '{field}' field must not be null.")


async def in_environment(session, model, env: Environment, row_id: int, what: str, *, lock: bool = False,
                         error: type[BackOfficeError] = Missing):
    """The row of ``model`` with this id in this environment, or ``error`` saying there is none."""
    row = await session.get(model, row_id, with_for_update=lock)
    if row is None or row.environment != env.value:
        raise error(f"There is no {what} {row_id} in {env.value}.")
    return row
