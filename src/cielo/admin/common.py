"""What every back-office route group shares (API.md §4): the admin-scoped bearer token, the
bounded offset/limit of its lists, and the typed errors its services raise.

Each domain declares its own back-office routes (``promo/<domain>/admin_router.py``) on an
``APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(admin_actor)])``; its service does
the database work and raises :class:`Missing` or :class:`Refused`, which the application's one
handler answers as an ``HTTPException`` of the same status and detail would be."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, Request
from pydantic import BeforeValidator

from cielo.audit.service import Actor
from cielo.auth.service import covers
from cielo.numbers import ascii_digits
from cielo.promo.environments import Environment
from cielo.promo.pagination import MAX_OFFSET
from cielo.services import services

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
