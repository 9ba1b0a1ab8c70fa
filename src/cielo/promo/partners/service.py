"""Partners (managed in the back office): create, list, read, modify, each change audited in
its own transaction."""

from __future__ import annotations

from sqlalchemy import select

from cielo.admin.common import in_environment, not_null
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.db import Database
from cielo.promo.environments import Environment
from cielo.promo.partners.models import Partner
from cielo.promo.partners.schemas import PartnerIn, PartnerPatch

_COLUMNS = {"name": "name", "description": "description", "term": "term_url",
            "associationType": "association_type", "active": "active"}


async def partner_in(session, env: Environment, partner_id: int, *, lock: bool = False) -> Partner:
    """The partner in this environment, read in the caller's transaction, or Missing."""
    return await in_environment(session, Partner, env, partner_id, "partner", lock=lock)


class PartnerService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, env: Environment, body: PartnerIn, actor: Actor) -> Partner:
        row = Partner(environment=env.value, name=body.name, description=body.description, term_url=str(body.term),
                      association_type=body.associationType, active=body.active)
        async with self._db.write() as session:
            session.add(row)
            await session.flush()
            audit.record(session, actor, "create", "partner", str(row.id), body.model_dump(mode="json"))
        return row

    async def list_in(self, env: Environment) -> list[Partner]:
        async with self._db.read() as session:
            return list((await session.scalars(
                select(Partner).where(Partner.environment == env.value).order_by(Partner.id))).all())

    async def find(self, env: Environment, partner_id: int) -> Partner:
        async with self._db.read() as session:
            return await partner_in(session, env, partner_id)

    async def modify(self, env: Environment, partner_id: int, body: PartnerPatch, actor: Actor) -> Partner:
        changes = body.model_dump(exclude_unset=True, mode="json")
        async with self._db.write() as session:
            row = await partner_in(session, env, partner_id, lock=True)
            not_null(changes)
            for field, value in changes.items():
                setattr(row, _COLUMNS[field], value)
            audit.record(session, actor, "modify", "partner", str(row.id), changes)
            await session.flush()
            return row
