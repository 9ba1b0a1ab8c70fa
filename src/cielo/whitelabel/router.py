"""Routes of the white-label API: parse, call the service, shape the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from cielo.audit.service import Actor
from cielo.services import services
from cielo.web.routing import LeanRoute
from cielo.whitelabel import schemas
from cielo.whitelabel.errors import WhiteLabelUnauthorized
from cielo.whitelabel.service import WhiteLabelService

PREFIX = "/api/integrations/canvas/v1/white_label_account"


class _SpaceName(Convertor):
    """A space name as the caller wrote it: any characters, slashes and line breaks included
    (Starlette's ``path`` convertor stops at a line break, which made such a name a 404
    instead of the contract's 400)."""

    regex = "(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("space_name", _SpaceName())


@dataclass(frozen=True)
class Caller:
    """The authenticated token and the service it may use."""

    actor: Actor
    service: WhiteLabelService


async def caller(request: Request) -> Caller:
    """The first call of every route: a token with the whitelabel scope, or 403.

    Routes take only the Request and call this themselves rather than declaring FastAPI
    dependencies and typed path parameters (``LeanRoute``: dependency solving was a large part
    of a cached GET). Every route's 403 is covered by tests.
    """
    found = services(request)
    actor = await found.authenticator.authenticate(request.headers.get("authorization"), "whitelabel")
    if actor is None:
        raise WhiteLabelUnauthorized()
    return Caller(actor, found.whitelabel)


SECURITY_SCHEMES = {"Bearer": {"type": "http", "scheme": "bearer",
                               "description": "A token from `cielo admin token create` (scope whitelabel or admin)."}}
_SECURITY: dict[str, Any] = {"security": [{"Bearer": []}]}


def _json(model: BaseModel) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


def _body(model: type[BaseModel]) -> dict:
    return {**_SECURITY,
            "requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.ErrorBody, "description": "Bad input, or the space name is (not) integrated."},
    403: {"model": schemas.DetailBody, "description": "Invalid authorization token."},
    500: {"model": schemas.ErrorBody, "description": "Unexpected failure; reach out to cielo24 support."},
}

# Each endpoint takes only the Request and parses it itself (LeanRoute calls it as it is); its
# parameters, body and answers are declared on the decorator for the OpenAPI document.
router = APIRouter(prefix=PREFIX, tags=["White-label accounts"], route_class=LeanRoute)


@router.get("", response_model=schemas.CustomersEnvelope, responses=_ERRORS, summary="List the integrated customers",
            openapi_extra=_SECURITY)
async def list_accounts(request: Request) -> Response:
    call = await caller(request)
    # Serialising every account is the cost of this route; the bytes are kept until the
    # next commit anywhere (the same exact invalidation as every read cache).
    async def render() -> bytes:
        envelope = schemas.CustomersEnvelope(customers=await call.service.list_all())
        return envelope.__pydantic_serializer__.to_json(envelope)

    return Response(await call.service.rendered.get_or_load("all", render), media_type="application/json")


@router.get(
    "/{canvas_space_name:space_name}",
    response_model=schemas.CustomersEnvelope,
    responses=_ERRORS,
    summary="Get one integrated customer",
    openapi_extra={
        **_SECURITY,
        "parameters": [
            {
                "name": "canvas_space_name",
                "in": "path",
                "required": True,
                "description": "Canvas space name of the integrated customer.",
                "schema": {"type": "string", "minLength": 1},
            }
        ]
    },
)
async def get_account(request: Request) -> Response:
    call = await caller(request)
    name = request.path_params["canvas_space_name"]
    return _json(schemas.CustomersEnvelope(customers=[await call.service.get_one(name)]))


@router.post(
    "",
    response_model=schemas.NewCustomerEnvelope,
    responses=_ERRORS,
    summary="Integrate a new customer",
    openapi_extra=_body(schemas.NewCustomerRequest),
)
async def create_account(request: Request) -> Response:
    call = await caller(request)
    data = schemas.parse_new(await request.body())
    return _json(schemas.NewCustomerEnvelope(new_customer=await call.service.create(call.actor, data)))


@router.patch(
    "",
    response_model=schemas.ModifiedCustomerEnvelope,
    responses=_ERRORS,
    summary="Modify an integrated customer",
    openapi_extra=_body(schemas.ModifyCustomerRequest),
)
async def modify_account(request: Request) -> Response:
    call = await caller(request)
    data = schemas.parse_changes(await request.body())
    return _json(schemas.ModifiedCustomerEnvelope(modified_customer=await call.service.modify(call.actor, data)))


@router.delete(
    "",
    response_model=schemas.DeletedCustomerEnvelope,
    responses=_ERRORS,
    summary="Delete an integrated customer",
    openapi_extra=_body(schemas.DeleteCustomerRequest),
)
async def delete_account(request: Request) -> Response:
    call = await caller(request)
    data = schemas.parse_delete(await request.body())
    return _json(schemas.DeletedCustomerEnvelope(deleted_customer=await call.service.delete(call.actor, data.canvas_space_name)))

