"""Back office: partners (API.md §4)."""

from __future__ import annotations

from fastapi import Depends, Request

from cielo.admin.common import admin_actor, admin_router
from cielo.audit.service import Actor
from cielo.ids import PathId
from cielo.promo.environments import Environment
from cielo.promo.partners.models import Partner
from cielo.promo.partners.schemas import PartnerIn, PartnerOut, PartnerPatch
from cielo.services import services

router = admin_router()


def _partner(p: Partner) -> PartnerOut:
    return PartnerOut(id=p.id, environment=p.environment, name=p.name, description=p.description, term=p.term_url,
                      associationType=p.association_type, active=p.active)


@router.post("/{env}/partners", status_code=201, response_model=PartnerOut)
async def create_partner(env: Environment, body: PartnerIn, request: Request, actor: Actor = Depends(admin_actor)):
    return _partner(await services(request).partners.create(env, body, actor))


@router.get("/{env}/partners", response_model=list[PartnerOut])
async def list_partners(env: Environment, request: Request):
    return [_partner(p) for p in await services(request).partners.list_in(env)]


@router.get("/{env}/partners/{partner_id}", response_model=PartnerOut)
async def get_partner(env: Environment, partner_id: PathId, request: Request):
    return _partner(await services(request).partners.find(env, partner_id))


@router.patch("/{env}/partners/{partner_id}", response_model=PartnerOut)
async def patch_partner(env: Environment, partner_id: PathId, body: PartnerPatch, request: Request,
                        actor: Actor = Depends(admin_actor)):
    return _partner(await services(request).partners.modify(env, partner_id, body, actor))
