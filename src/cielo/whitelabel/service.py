"""The white-label account rules: create, read, change, delete; secrets encrypted; every
change audited in the transaction that makes it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.cache import CacheRegistry
from cielo.db import Database
from cielo.security.secrets import SecretBox
from cielo.whitelabel import errors, schemas
from cielo.whitelabel.errors import WhiteLabelError
from cielo.whitelabel.models import WhiteLabelAccount
from cielo.whitelabel.schemas import Customer, ModifyCustomerRequest, NewCustomerRequest

RESOURCE = "whitelabel_account"
# Fields whose values may appear in the audit trail; the others are named, never shown.
_AUDITED_VALUES = ("is_active", "customer_name")
_ALL_ALL = "*"
# Reads select the table's columns (Core rows, no ORM identity map): the read path is hot.
_TABLE = WhiteLabelAccount.__table__


class WhiteLabelService:
    def __init__(self, db: Database, box: SecretBox, caches: CacheRegistry) -> None:
        self._db = db
        self._box = box
        self._cache = caches.cache("whitelabel_accounts", tables=(_TABLE.name,))
        # Rendered answers (the whole list is ~130 bytes an account): see the router.
        self.rendered = caches.cache("whitelabel_rendered", max_entries=16, tables=(_TABLE.name,))

    def _customer(self, row) -> Customer:
        """From an ORM object or a Core row of the table."""
        return Customer(
            canvas_space_name=row.canvas_space_name,
            api_key=row.api_key,
            api_secret=self._box.decrypt(row.api_secret_encrypted),
            is_active=row.is_active,
            customer_name=row.customer_name,
        )

    async def list_all(self) -> list[Customer]:
        async def load():
            rows = await self._db.all(select(_TABLE))
            # Ordered by code point in Python, so both databases give one order whatever their collation.
            return sorted((self._customer(r) for r in rows), key=lambda c: c.canvas_space_name)

        customers = await self._cache.get_or_load(_ALL_ALL, load)
        assert customers is not None  # load() always returns a list
        return customers

    async def get_one(self, name: str) -> Customer:
        if not schemas.storable_name(name):  # (PostgreSQL text cannot even hold a NUL to compare)
            raise WhiteLabelError(errors.not_integrated(name))

        async def load():
            row = await self._db.first(select(_TABLE).where(_TABLE.c.canvas_space_name == name))
            return self._customer(row) if row is not None else False

        cached = await self._cache.get_or_load(("one", name), load)
        if cached is False or cached is None:  # (load() answers False, never None)
            raise WhiteLabelError(errors.not_integrated(name))
        return cached

    async def create(self, actor: Actor, data: NewCustomerRequest) -> Customer:
        row = WhiteLabelAccount(
            canvas_space_name=data.canvas_space_name,
            api_key=data.api_key,
            api_secret_encrypted=self._box.encrypt(data.api_secret),
            is_active=data.is_active,
            customer_name=data.customer_name,
        )
        try:
            async with self._db.write() as session:
                session.add(row)
                await session.flush()
                audit.record(
                    session,
                    actor,
                    "create",
                    RESOURCE,
                    data.canvas_space_name,
                    {
                        "fields": ["api_key", "api_secret", "is_active", "customer_name"],
                        "values": {"is_active": data.is_active, "customer_name": data.customer_name},
                    },
                )
        except IntegrityError:
            # The unique constraint on canvas_space_name decided: another create won.
            raise WhiteLabelError(errors.already_integrated(data.canvas_space_name)) from None
        return Customer(
            canvas_space_name=data.canvas_space_name,
            api_key=data.api_key,
            api_secret=data.api_secret,
            is_active=data.is_active,
            customer_name=data.customer_name,
        )

    async def _locked(self, session, name: str) -> WhiteLabelAccount:
        row = await session.scalar(
            select(WhiteLabelAccount).where(WhiteLabelAccount.canvas_space_name == name).with_for_update()
        )
        if row is None:
            raise WhiteLabelError(errors.not_integrated_change(name))
        return row

    async def modify(self, actor: Actor, data: ModifyCustomerRequest) -> Customer:
        supplied = data.model_dump(exclude_unset=True, exclude={"canvas_space_name"})
        async with self._db.write() as session:
            row = await self._locked(session, data.canvas_space_name)
            changed: list[str] = []
            values: dict = {}
            for field, new in supplied.items():
                if field == "api_secret":
                    if self._box.decrypt(row.api_secret_encrypted) != new:
                        row.api_secret_encrypted = self._box.encrypt(new)
                        changed.append(field)
                    continue
                old = getattr(row, field)
                if old != new:
                    setattr(row, field, new)
                    changed.append(field)
                    if field in _AUDITED_VALUES:
                        values[field] = {"from": old, "to": new}
            if changed:
                audit.record(session, actor, "modify", RESOURCE, row.canvas_space_name, {"fields": changed, "values": values})
                await session.flush()
            customer = self._customer(row)
        return customer

    async def delete(self, actor: Actor, name: str) -> Customer:
        async with self._db.write() as session:
            row = await self._locked(session, name)
            customer = self._customer(row)
            await session.delete(row)
            audit.record(session, actor, "delete", RESOURCE, name, {"fields": []})
        return customer
