"""Commercial establishments: who may act for which (CONTRACT §3.3), the partner listing."""

from __future__ import annotations

from sqlalchemy import and_, false, func, or_, select

from cielo.db import Database
from cielo.developer.models import Application
from cielo.promo.environments import Environment
from cielo.promo.establishments.models import (
    CommercialEstablishment,
    EstablishmentGrant,
)
from cielo.promo.pagination import Page


def visible_to(app: Application, env: Environment):
    """The SQL condition on establishments an application may act for: in the sandbox every
    sandbox establishment; in production those granted to its partner (by id or CNPJ root)."""
    in_env = CommercialEstablishment.environment == env.value
    if env is Environment.SANDBOX:
        return in_env
    if app.partner_id is None:
        return false()
    by_id = select(EstablishmentGrant.establishment_id).where(
        EstablishmentGrant.partner_id == app.partner_id, EstablishmentGrant.establishment_id.is_not(None))
    by_root = select(EstablishmentGrant.cnpj_root).where(
        EstablishmentGrant.partner_id == app.partner_id, EstablishmentGrant.cnpj_root.is_not(None))
    return and_(in_env, or_(CommercialEstablishment.id.in_(by_id), CommercialEstablishment.cnpj_root.in_(by_root)))


def model(row: CommercialEstablishment) -> dict:
    return model_of(row.id, row.fictitious_name, row.business_activity_id)


def model_of(establishment_id: int, fictitious_name: str, business_activity_id: int) -> dict:
    """The seed's CommercialEstablishment, from columns read beside another row's."""
    return {"id": establishment_id, "fictitiousName": fictitious_name, "businessActivity": {"id": business_activity_id}}


class EstablishmentService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_for(self, app: Application, env: Environment, page: Page, *, cnpj: str | None, cpf: str | None):
        conditions = [visible_to(app, env), CommercialEstablishment.active.is_(True)]
        if cnpj is not None:
            conditions.append(and_(CommercialEstablishment.document_type == "CNPJ", CommercialEstablishment.document == cnpj))
        if cpf is not None:
            conditions.append(and_(CommercialEstablishment.document_type == "CPF", CommercialEstablishment.document == cpf))
        if cnpj is not None and cpf is not None:
            # One owner document per establishment: both filters together match either.
            conditions = conditions[:2] + [or_(conditions[2], conditions[3])]
        where = and_(*conditions)
        async with self._db.read() as session:
            total = await session.scalar(select(func.count()).select_from(CommercialEstablishment).where(where))
            rows = (await session.scalars(
                select(CommercialEstablishment).where(where).order_by(CommercialEstablishment.id)
                .offset(page.offset).limit(page.limit)
            )).all()
        return [model(r) for r in rows], total or 0
