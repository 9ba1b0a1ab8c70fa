"""Reading a Promotions API request, the same way in every domain's routes: JSON bodies, ids in
the path, ``_expand``, and the addresses of the API's own pages."""

from __future__ import annotations

from fastapi import Request

from cielo.ids import MAX_ID
from cielo.numbers import integer, is_digits
from cielo.promo.access import Caller
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, given
from cielo.web.http import json_body

FORM_EXPIRED = "The form has expired or did not come from this site; reload the page and try again."


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def json_object(request: Request, caller: Caller) -> dict:
    """The body, a JSON object: 415 for another content type, 400 for anything but an object,
    422 (MISSING_BODY) when there is none, 413 as soon as what was read passes the caller's
    access profile (API.md §2), however the body is framed."""
    body = await json_body(request, _body_error, max_bytes=caller.max_body_bytes, too_large=caller.body_too_large)
    if not isinstance(body, dict):
        raise PromoError(400, "The request body must be a JSON object.")
    return body


def _body_error(status_code: int, message: str) -> PromoError:
    return PromoError(status_code, message, code="MISSING_BODY") if status_code == 422 else PromoError(status_code, message)


def path_id(request: Request, name: str) -> int:
    """A positive integer id from the path: 400 when it is not one, 404 when it is too large
    to name anything (ids are 32-bit)."""
    raw = request.path_params[name]
    if not is_digits(raw) or not raw.strip("0"):
        raise PromoError(400, f"The '{name}' must be a positive integer.")
    value = integer(raw.lstrip("0"), 10)
    if value is None or value > MAX_ID:
        raise PromoError(404, f"Nothing has the {name} {raw}.")
    return value


def expand(request: Request) -> bool:
    """``_expand=partners``, the one expansion the seed gives."""
    value = given(request.query_params, "_expand", required=False)
    if value is None:
        return False
    if value != "partners":
        raise PromoError(400, "The '_expand' parameter accepts only 'partners'.")
    return True


def url_of(request: Request, env: Environment, path: str) -> str:
    """The address of ``path`` of the environment's API, as this request reached the service."""
    return request.scope.get("root_path", "") + env.base_path + path
