"""Routes of the white-label API: parse, call the service, shape the answer."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from cielo.audit.service import Actor
from cielo.whitelabel import schemas
from cielo.whitelabel.errors import WhiteLabelUnauthorized
from cielo.whitelabel.service import WhiteLabelService

PREFIX = "/api/integrations/canvas/v1/white_label_account"


async def whitelabel_actor(request: Request) -> Actor:
    actor = await request.app.state.authenticator.authenticate(request.headers.get("authorization"), "whitelabel")
    if actor is None:
        raise WhiteLabelUnauthorized()
    return actor


def whitelabel_service(request: Request) -> WhiteLabelService:
    return request.app.state.whitelabel


def _json(model: BaseModel) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model), media_type="application/json")


def _body(model: type[BaseModel]) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


_ERRORS = {
    400: {"model": schemas.ErrorBody, "description": "Bad input, or the space name is (not) integrated."},
    403: {"model": schemas.DetailBody, "description": "Invalid authorization token."},
    500: {"model": schemas.ErrorBody, "description": "Unexpected failure; reach out to cielo24 support."},
}

router = APIRouter(prefix=PREFIX, tags=["White-label accounts"], dependencies=[Depends(whitelabel_actor)])


@router.get("", response_model=schemas.CustomersEnvelope, responses=_ERRORS, summary="List the integrated customers")
async def list_accounts(service: WhiteLabelService = Depends(whitelabel_service)) -> Response:
    return _json(schemas.CustomersEnvelope(customers=await service.list_all()))


@router.get(
    "/{canvas_space_name:path}",
    response_model=schemas.CustomersEnvelope,
    responses=_ERRORS,
    summary="Get one integrated customer",
)
async def get_account(canvas_space_name: str, service: WhiteLabelService = Depends(whitelabel_service)) -> Response:
    return _json(schemas.CustomersEnvelope(customers=[await service.get_one(canvas_space_name)]))


@router.post(
    "",
    response_model=schemas.NewCustomerEnvelope,
    responses=_ERRORS,
    summary="Integrate a new customer",
    openapi_extra=_body(schemas.NewCustomerRequest),
)
async def create_account(
    request: Request,
    actor: Actor = Depends(whitelabel_actor),
    service: WhiteLabelService = Depends(whitelabel_service),
) -> Response:
    data = schemas.parse_new(await request.body())
    return _json(schemas.NewCustomerEnvelope(new_customer=await service.create(actor, data)))


@router.patch(
    "",
    response_model=schemas.ModifiedCustomerEnvelope,
    responses=_ERRORS,
    summary="Modify an integrated customer",
    openapi_extra=_body(schemas.ModifyCustomerRequest),
)
async def modify_account(
    request: Request,
    actor: Actor = Depends(whitelabel_actor),
    service: WhiteLabelService = Depends(whitelabel_service),
) -> Response:
    data = schemas.parse_changes(await request.body())
    return _json(schemas.ModifiedCustomerEnvelope(modified_customer=await service.modify(actor, data)))


@router.delete(
    "",
    response_model=schemas.DeletedCustomerEnvelope,
    responses=_ERRORS,
    summary="Delete an integrated customer",
    openapi_extra=_body(schemas.DeleteCustomerRequest),
)
async def delete_account(
    request: Request,
    actor: Actor = Depends(whitelabel_actor),
    service: WhiteLabelService = Depends(whitelabel_service),
) -> Response:
    data = schemas.parse_delete(await request.body())
    return _json(schemas.DeletedCustomerEnvelope(deleted_customer=await service.delete(actor, data.canvas_space_name)))
