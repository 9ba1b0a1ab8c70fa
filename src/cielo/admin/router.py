"""Back-office routes: partners and applications (the rest of /admin/v1 comes with the
establishments, promotions and transactions)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from cielo.admin.common import PREFIX, TAG, admin_actor, in_environment
from cielo.admin.schemas import (
    ApplicationOut,
    ApplicationPatch,
    PartnerIn,
    PartnerOut,
    PartnerPatch,
)
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.promo.developer.models import Application
from cielo.ids import PathId
from cielo.promo.environments import Environment
from cielo.promo.partners.models import Partner
from cielo.services import services

router = APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(admin_actor)])


def _partner(p: Partner) -> PartnerOut:
    return PartnerOut(id=p.id, environment=p.environment, name=p.name, description=p.description, term=p.term_url,
                      associationType=p.association_type, active=p.active)


def _application(a: Application) -> ApplicationOut:
    return ApplicationOut(id=a.id, environment=a.environment, name=a.name, clientId=a.client_id,
                          developerId=a.developer_id, partnerId=a.partner_id, redirectUrls=a.redirect_urls)


@router.post("/{env}/partners", status_code=201, response_model=PartnerOut)
async def create_partner(env: Environment, body: PartnerIn, request: Request, actor: Actor = Depends(admin_actor)):
    db = services(request).db
    row = Partner(environment=env.value, name=body.name, description=body.description, term_url=str(body.term),
                  association_type=body.associationType, active=body.active)
    async with db.write() as session:
        session.add(row)
        await session.flush()
        audit.record(session, actor, "create", "partner", str(row.id), body.model_dump(mode="json"))
    return _partner(row)


@router.get("/{env}/partners", response_model=list[PartnerOut])
async def list_partners(env: Environment, request: Request):
    async with services(request).db.read() as session:
        rows = (await session.scalars(select(Partner).where(Partner.environment == env.value).order_by(Partner.id))).all()
    return [_partner(p) for p in rows]


async def _own_partner(session, env: Environment, partner_id: PathId, *, lock: bool = False) -> Partner:
    return await in_environment(session, Partner, env, partner_id, "partner", lock=lock)


@router.get("/{env}/partners/{partner_id}", response_model=PartnerOut)
async def get_partner(env: Environment, partner_id: PathId, request: Request):
    async with services(request).db.read() as session:
        return _partner(await _own_partner(session, env, partner_id))


@router.patch("/{env}/partners/{partner_id}", response_model=PartnerOut)
async def patch_partner(env: Environment, partner_id: PathId, body: PartnerPatch, request: Request,
                        actor: Actor = Depends(admin_actor)):
    changes = body.model_dump(exclude_unset=True, mode="json")
    columns = {"name": "name", "description": "description", "term": "term_url",
               "associationType": "association_type", "active": "active"}
    async with services(request).db.write() as session:
        row = await _own_partner(session, env, partner_id, lock=True)
        for field, value in changes.items():
            if value is None:
                raise HTTPException(400, f"The '{field}' field must not be null.")
            setattr(row, columns[field], value)
        audit.record(session, actor, "modify", "partner", str(row.id), changes)
        await session.flush()
        return _partner(row)


@router.get("/{env}/applications", response_model=list[ApplicationOut])
async def list_applications(env: Environment, request: Request):
    async with services(request).db.read() as session:
        rows = (await session.scalars(select(Application).where(Application.environment == env.value).order_by(Application.id))).all()
    return [_application(a) for a in rows]


@router.patch("/{env}/applications/{application_id}", response_model=ApplicationOut)
async def patch_application(env: Environment, application_id: PathId, body: ApplicationPatch, request: Request,
                            actor: Actor = Depends(admin_actor)):
    async with services(request).db.write() as session:
        app = await in_environment(session, Application, env, application_id, "application", lock=True)
        if "partnerId" in body.model_fields_set:
            if body.partnerId is not None:
                await _own_partner(session, env, body.partnerId)
            app.partner_id = body.partnerId
            audit.record(session, actor, "assign-partner", "application", str(app.id), {"partnerId": body.partnerId})
        await session.flush()
        return _application(app)
