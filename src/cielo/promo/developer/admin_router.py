"""Back office: the developers' applications, and the partner each acts for (API.md §4)."""

from __future__ import annotations

from fastapi import Depends, Request

from cielo.admin.common import admin_actor, admin_router
from cielo.audit.service import Actor
from cielo.ids import PathId
from cielo.promo.developer.models import Application
from cielo.promo.developer.schemas import ApplicationOut, ApplicationPatch
from cielo.promo.environments import Environment
from cielo.services import services

router = admin_router()


def _application(a: Application) -> ApplicationOut:
    return ApplicationOut(id=a.id, environment=a.environment, name=a.name, clientId=a.client_id,
                          developerId=a.developer_id, partnerId=a.partner_id, redirectUrls=a.redirect_urls)


@router.get("/{env}/applications", response_model=list[ApplicationOut])
async def list_applications(env: Environment, request: Request):
    return [_application(a) for a in await services(request).applications.list_in(env)]


@router.patch("/{env}/applications/{application_id}", response_model=ApplicationOut)
async def patch_application(env: Environment, application_id: PathId, body: ApplicationPatch, request: Request,
                            actor: Actor = Depends(admin_actor)):
    return _application(await services(request).applications.modify(env, application_id, body, actor))
