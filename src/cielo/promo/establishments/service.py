"""Commercial establishments: who may act for which (API.md §3.3), the partner listing, and
the back office's establishments and partner grants."""

from __future__ import annotations

from sqlalchemy import and_, false, or_, select

from cielo.admin.common import (
    BackOfficeError,
    Missing,
    Refused,
    in_environment,
    not_null,
)
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.cache import CacheRegistry
from cielo.db import Database
from cielo.promo import validation
from cielo.promo.developer.models import Application
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError
from cielo.promo.establishments.models import (
    CommercialEstablishment,
    EstablishmentGrant,
)
from cielo.promo.establishments.schemas import (
    EstablishmentIn,
    EstablishmentPatch,
    GrantIn,
)
from cielo.promo.pagination import Page
from cielo.promo.partners.service import partner_in

_COLUMNS = {"fictitiousName": "fictitious_name", "businessActivityId": "business_activity_id",
            "latitude": "latitude", "longitude": "longitude", "address": "address", "active": "active"}


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


def establishment_values(env: Environment, body: EstablishmentIn) -> dict:
    """The columns of a new establishment, or ValueError with a sentence (the API and the
    import command share it)."""
    if (body.cnpj is None) == (body.cpf is None):
        raise ValueError("Give the owner's document as exactly one of 'cnpj' or 'cpf'.")
    try:
        if body.cnpj is not None:
            kind, document = "CNPJ", validation.cnpj(body.cnpj)
        else:
            assert body.cpf is not None  # exactly one of the two, checked above
            kind, document = "CPF", validation.cpf(body.cpf)
    except PromoError as exc:
        raise ValueError(exc.description.replace("parameter", "field")) from None
    return {
        "environment": env.value, "document_type": kind, "document": document,
        "cnpj_root": document[:8] if kind == "CNPJ" else None, "fictitious_name": body.fictitiousName,
        "business_activity_id": body.businessActivityId, "latitude": body.latitude, "longitude": body.longitude,
        "address": body.address.model_dump(exclude_none=True), "active": body.active,
    }


async def establishment_in(session, env: Environment, establishment_id: int, *, lock: bool = False,
                           error: type[BackOfficeError] = Missing) -> CommercialEstablishment:
    """The establishment in this environment, read in the caller's transaction, or ``error``."""
    return await in_environment(session, CommercialEstablishment, env, establishment_id, "commercial establishment",
                                lock=lock, error=error)


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
        items, total = await self._lists.get_or_load(key, load)
        page.check_whole(total)
        return items, total

    # ---- the back office -------------------------------------------------------------------

    async def create(self, env: Environment, body: EstablishmentIn, actor: Actor) -> CommercialEstablishment:
        try:
            row = CommercialEstablishment(**establishment_values(env, body))
        except ValueError as exc:
            raise Refused(str(exc)) from None
        async with self._db.write() as session:
            session.add(row)
            await session.flush()
            audit.record(session, actor, "create", "commercial_establishment", str(row.id),
                         {"fields": sorted(body.model_fields_set)})
        return row

    async def list_in(self, env: Environment, offset: int, limit: int) -> list[CommercialEstablishment]:
        async with self._db.read() as session:
            return list((await session.scalars(
                select(CommercialEstablishment).where(CommercialEstablishment.environment == env.value)
                .order_by(CommercialEstablishment.id).offset(offset).limit(limit)
            )).all())

    async def find(self, env: Environment, establishment_id: int) -> CommercialEstablishment:
        async with self._db.read() as session:
            return await establishment_in(session, env, establishment_id)

    async def modify(self, env: Environment, establishment_id: int, body: EstablishmentPatch,
                     actor: Actor) -> CommercialEstablishment:
        changes = body.model_dump(exclude_unset=True)
        async with self._db.write() as session:
            row = await establishment_in(session, env, establishment_id, lock=True)
            not_null(changes)
            for field, value in changes.items():
                setattr(row, _COLUMNS[field],
                        value if field != "address" else {k: v for k, v in value.items() if v is not None})
            audit.record(session, actor, "modify", "commercial_establishment", str(row.id), {"fields": sorted(changes)})
            await session.flush()
            return row

    async def grant(self, env: Environment, partner_id: int, body: GrantIn, actor: Actor) -> EstablishmentGrant:
        """The partner may act for one establishment, or for every one of a CNPJ root."""
        if (body.commercialEstablishmentId is None) == (body.cnpjRoot is None):
            raise Refused("Grant exactly one of 'commercialEstablishmentId' or 'cnpjRoot'.")
        async with self._db.write() as session:
            await partner_in(session, env, partner_id)
            if body.commercialEstablishmentId is not None:
                await establishment_in(session, env, body.commercialEstablishmentId)
            row = EstablishmentGrant(environment=env.value, partner_id=partner_id,
                                     establishment_id=body.commercialEstablishmentId,
                                     cnpj_root=body.cnpjRoot.upper() if body.cnpjRoot else None)
            session.add(row)
            await session.flush()
            audit.record(session, actor, "grant", "partner", str(partner_id), body.model_dump(exclude_none=True))
        return row

    async def grants(self, env: Environment, partner_id: int) -> list[EstablishmentGrant]:
        async with self._db.read() as session:
            return list((await session.scalars(
                select(EstablishmentGrant).where(EstablishmentGrant.environment == env.value,
                                                 EstablishmentGrant.partner_id == partner_id)
                .order_by(EstablishmentGrant.id)
            )).all())

    async def revoke_grant(self, env: Environment, partner_id: int, grant_id: int, actor: Actor) -> None:
        async with self._db.write() as session:
            row = await session.get(EstablishmentGrant, grant_id, with_for_update=True)
            if row is None or row.partner_id != partner_id or row.environment != env.value:
                raise Missing(f"There is no grant {grant_id} of partner {partner_id}.")
            await session.delete(row)
            audit.record(session, actor, "revoke-grant", "partner", str(partner_id), {"grant": grant_id})
