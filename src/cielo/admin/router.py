"""Back-office routes: applications (the rest of /admin/v1 comes with the partners,
establishments, promotions and transactions)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from cielo.admin.common import PREFIX, TAG, admin_actor, in_environment
from cielo.admin.schemas import ApplicationOut, ApplicationPatch
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.promo.developer.models import Application
from cielo.ids import PathId
from cielo.promo.environments import Environment
from cielo.promo.partners.service import partner_in
from cielo.services import services

router = APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(admin_actor)])


def _application(a: Application) -> ApplicationOut:
    return ApplicationOut(id=a.id, environment=a.environment, name=a.name, clientId=a.client_id,
                          developerId=a.developer_id, partnerId=a.partner_id, redirectUrls=a.redirect_urls)


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
                await partner_in(session, env, body.partnerId)
            app.partner_id = body.partnerId
            audit.record(session, actor, "assign-partner", "application", str(app.id), {"partnerId": body.partnerId})
        await session.flush()
        return _application(app)
