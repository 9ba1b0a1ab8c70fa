"""Commercial establishments: who may act for which (API.md §3.3), the partner listing."""

from __future__ import annotations

from sqlalchemy import and_, false, or_, select

from cielo.cache import CacheRegistry
from cielo.db import Database
from cielo.promo.developer.models import Application
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
    def __init__(self, db: Database, caches: CacheRegistry) -> None:
        self._db = db
        self._lists = caches.cache("promo-establishment-lists", 20_000)  # exact (cielo.cache): pages as answered

    async def list_for(self, app: Application, env: Environment, page: Page, *, cnpj: str | None, cpf: str | None):
        async def load() -> tuple[list[dict], int]:
            E = CommercialEstablishment
            conditions = [visible_to(app, env), E.active.is_(True)]
            by_cnpj = and_(E.document_type == "CNPJ", E.document == cnpj) if cnpj is not None else None
            by_cpf = and_(E.document_type == "CPF", E.document == cpf) if cpf is not None else None
            if by_cnpj is not None and by_cpf is not None:
                conditions.append(or_(by_cnpj, by_cpf))  # one owner document per establishment: either matches
            elif by_cnpj is not None or by_cpf is not None:
                conditions.append(by_cnpj if by_cnpj is not None else by_cpf)
            rows, total = await self._db.page(
                select(E.id, E.fictitious_name, E.business_activity_id).where(*conditions).order_by(E.id),
                page.offset, page.limit)
            return [model_of(*row[:3]) for row in rows], total

        key = (app.id, app.partner_id, env, page.offset, page.limit, cnpj, cpf)
        return await self._lists.get_or_load(key, load)
