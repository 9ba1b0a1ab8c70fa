"""Back office: commercial establishments and their grants to partners (API.md §3.3, §4)."""

from __future__ import annotations

from fastapi import Depends, Request

from cielo.admin.common import Limit, Offset, admin_actor, admin_router
from cielo.audit.service import Actor
from cielo.ids import PathId
from cielo.promo.environments import Environment
from cielo.promo.establishments.models import (
    CommercialEstablishment,
    EstablishmentGrant,
)
from cielo.promo.establishments.schemas import (
    EstablishmentIn,
    EstablishmentOut,
    EstablishmentPatch,
    GrantIn,
    GrantOut,
)
from cielo.services import services

router = admin_router()


def _out(row: CommercialEstablishment) -> EstablishmentOut:
    return EstablishmentOut(
        id=row.id, environment=row.environment, fictitiousName=row.fictitious_name,
        businessActivityId=row.business_activity_id,
        cnpj=row.document if row.document_type == "CNPJ" else None,
        cpf=row.document if row.document_type == "CPF" else None,
        latitude=row.latitude, longitude=row.longitude, address=row.address, active=row.active,
    )


def _grant(row: EstablishmentGrant) -> GrantOut:
    return GrantOut(id=row.id, partnerId=row.partner_id, commercialEstablishmentId=row.establishment_id,
                    cnpjRoot=row.cnpj_root)


@router.post("/{env}/commercial-establishments", status_code=201, response_model=EstablishmentOut)
async def create(env: Environment, body: EstablishmentIn, request: Request, actor: Actor = Depends(admin_actor)):
    return _out(await services(request).establishments.create(env, body, actor))


@router.get("/{env}/commercial-establishments", response_model=list[EstablishmentOut])
async def list_(env: Environment, request: Request, offset: Offset = 0, limit: Limit = 100):
    return [_out(r) for r in await services(request).establishments.list_in(env, offset, limit)]


@router.get("/{env}/commercial-establishments/{establishment_id}", response_model=EstablishmentOut)
async def get(env: Environment, establishment_id: PathId, request: Request):
    return _out(await services(request).establishments.find(env, establishment_id))


@router.patch("/{env}/commercial-establishments/{establishment_id}", response_model=EstablishmentOut)
async def patch(env: Environment, establishment_id: PathId, body: EstablishmentPatch, request: Request,
                actor: Actor = Depends(admin_actor)):
    return _out(await services(request).establishments.modify(env, establishment_id, body, actor))


@router.post("/{env}/partners/{partner_id}/grants", status_code=201, response_model=GrantOut)
async def grant(env: Environment, partner_id: PathId, body: GrantIn, request: Request, actor: Actor = Depends(admin_actor)):
    return _grant(await services(request).establishments.grant(env, partner_id, body, actor))


@router.get("/{env}/partners/{partner_id}/grants", response_model=list[GrantOut])
async def grants(env: Environment, partner_id: PathId, request: Request):
    return [_grant(r) for r in await services(request).establishments.grants(env, partner_id)]


@router.delete("/{env}/partners/{partner_id}/grants/{grant_id}", status_code=204)
async def revoke_grant(env: Environment, partner_id: PathId, grant_id: PathId, request: Request,
                       actor: Actor = Depends(admin_actor)):
    await services(request).establishments.revoke_grant(env, partner_id, grant_id, actor)
