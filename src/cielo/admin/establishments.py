"""Back office: commercial establishments and their grants to partners (CONTRACT §3.3, §4)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from cielo.admin.common import Limit, Offset, admin_actor, in_environment
from cielo.admin.schemas import (
    EstablishmentIn,
    EstablishmentOut,
    EstablishmentPatch,
    GrantIn,
    GrantOut,
)
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.ids import PathId
from cielo.promo import validation
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError
from cielo.promo.establishments.models import (
    CommercialEstablishment,
    EstablishmentGrant,
)
from cielo.promo.partners.models import Partner
from cielo.services import services

router = APIRouter(prefix="/admin/v1", tags=["Back office"], dependencies=[Depends(admin_actor)])


def _out(row: CommercialEstablishment) -> EstablishmentOut:
    return EstablishmentOut(
        id=row.id, environment=row.environment, fictitiousName=row.fictitious_name,
        businessActivityId=row.business_activity_id,
        cnpj=row.document if row.document_type == "CNPJ" else None,
        cpf=row.document if row.document_type == "CPF" else None,
        latitude=row.latitude, longitude=row.longitude, address=row.address, active=row.active,
    )


def establishment_values(env: Environment, body: EstablishmentIn) -> dict:
    """The columns of a new establishment, or ValueError with a sentence (the API and the
    import command share it)."""
    if (body.cnpj is None) == (body.cpf is None):
        raise ValueError("Give the owner's document as exactly one of 'cnpj' or 'cpf'.")
    try:
        kind, document = ("CNPJ", validation.cnpj(body.cnpj)) if body.cnpj is not None else ("CPF", validation.cpf(body.cpf))
    except PromoError as exc:
        raise ValueError(exc.description.replace("parameter", "field")) from None
    return {
        "environment": env.value, "document_type": kind, "document": document,
        "cnpj_root": document[:8] if kind == "CNPJ" else None, "fictitious_name": body.fictitiousName,
        "business_activity_id": body.businessActivityId, "latitude": body.latitude, "longitude": body.longitude,
        "address": body.address.model_dump(exclude_none=True), "active": body.active,
    }


@router.post("/{env}/commercial-establishments", status_code=201, response_model=EstablishmentOut)
async def create(env: Environment, body: EstablishmentIn, request: Request, actor: Actor = Depends(admin_actor)):
    try:
        row = CommercialEstablishment(**establishment_values(env, body))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    async with services(request).db.write() as session:
        session.add(row)
        await session.flush()
        audit.record(session, actor, "create", "commercial_establishment", str(row.id),
                     {"fields": sorted(body.model_fields_set)})
    return _out(row)


@router.get("/{env}/commercial-establishments", response_model=list[EstablishmentOut])
async def list_(env: Environment, request: Request, offset: Offset = 0, limit: Limit = 100):
    async with services(request).db.read() as session:
        rows = (await session.scalars(
            select(CommercialEstablishment).where(CommercialEstablishment.environment == env.value)
            .order_by(CommercialEstablishment.id).offset(offset).limit(limit)
        )).all()
    return [_out(r) for r in rows]


async def _own(session, env: Environment, establishment_id: PathId, *, lock: bool = False) -> CommercialEstablishment:
    return await in_environment(session, CommercialEstablishment, env, establishment_id, "commercial establishment",
                                lock=lock)


@router.get("/{env}/commercial-establishments/{establishment_id}", response_model=EstablishmentOut)
async def get(env: Environment, establishment_id: PathId, request: Request):
    async with services(request).db.read() as session:
        return _out(await _own(session, env, establishment_id))


@router.patch("/{env}/commercial-establishments/{establishment_id}", response_model=EstablishmentOut)
async def patch(env: Environment, establishment_id: PathId, body: EstablishmentPatch, request: Request,
                actor: Actor = Depends(admin_actor)):
    changes = body.model_dump(exclude_unset=True)
    columns = {"fictitiousName": "fictitious_name", "businessActivityId": "business_activity_id",
               "latitude": "latitude", "longitude": "longitude", "address": "address", "active": "active"}
    async with services(request).db.write() as session:
        row = await _own(session, env, establishment_id, lock=True)
        for field, value in changes.items():
            if value is None:
                raise HTTPException(400, f"The '{field}' field must not be null.")
            setattr(row, columns[field], value if field != "address" else {k: v for k, v in value.items() if v is not None})
        audit.record(session, actor, "modify", "commercial_establishment", str(row.id), {"fields": sorted(changes)})
        await session.flush()
        return _out(row)


@router.post("/{env}/partners/{partner_id}/grants", status_code=201, response_model=GrantOut)
async def grant(env: Environment, partner_id: PathId, body: GrantIn, request: Request, actor: Actor = Depends(admin_actor)):
    if (body.commercialEstablishmentId is None) == (body.cnpjRoot is None):
        raise HTTPException(400, "Grant exactly one of 'commercialEstablishmentId' or 'cnpjRoot'.")
    async with services(request).db.write() as session:
        await in_environment(session, Partner, env, partner_id, "partner")
        if body.commercialEstablishmentId is not None:
            await _own(session, env, body.commercialEstablishmentId)
        row = EstablishmentGrant(environment=env.value, partner_id=partner_id,
                                 establishment_id=body.commercialEstablishmentId,
                                 cnpj_root=body.cnpjRoot.upper() if body.cnpjRoot else None)
        session.add(row)
        await session.flush()
        audit.record(session, actor, "grant", "partner", str(partner_id), body.model_dump(exclude_none=True))
    return GrantOut(id=row.id, partnerId=partner_id, commercialEstablishmentId=row.establishment_id, cnpjRoot=row.cnpj_root)


@router.get("/{env}/partners/{partner_id}/grants", response_model=list[GrantOut])
async def grants(env: Environment, partner_id: PathId, request: Request):
    async with services(request).db.read() as session:
        rows = (await session.scalars(
            select(EstablishmentGrant).where(EstablishmentGrant.environment == env.value,
                                             EstablishmentGrant.partner_id == partner_id).order_by(EstablishmentGrant.id)
        )).all()
    return [GrantOut(id=r.id, partnerId=r.partner_id, commercialEstablishmentId=r.establishment_id, cnpjRoot=r.cnpj_root)
            for r in rows]


@router.delete("/{env}/partners/{partner_id}/grants/{grant_id}", status_code=204)
async def revoke_grant(env: Environment, partner_id: PathId, grant_id: PathId, request: Request,
                       actor: Actor = Depends(admin_actor)):
    async with services(request).db.write() as session:
        row = await session.get(EstablishmentGrant, grant_id, with_for_update=True)
        if row is None or row.partner_id != partner_id or row.environment != env.value:
            raise HTTPException(404, f"There is no grant {grant_id} of partner {partner_id}.")
        await session.delete(row)
        audit.record(session, actor, "revoke-grant", "partner", str(partner_id), {"grant": grant_id})
