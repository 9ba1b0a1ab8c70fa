"""Holder data (API.md §3.2)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cielo.cache import CacheRegistry
from cielo.db import Database, utcnow
from cielo.promo.errors import PromoError
from cielo.promo.holders.devices import DeviceSighting
from cielo.promo.holders.models import Holder, HolderDevice
from cielo.security.secrets import SecretBox


async def record_device(db: Database, session: AsyncSession, holder_id: int, device: DeviceSighting) -> None:
    """Note the phone a holder signed up or in from, in the sign-in's transaction: one row per
    device, so a device seen again (same cookie) adds nothing, even when two sign-ins race.
    The commit empties /me's cache like any other (cielo.cache)."""
    await session.execute(db.sql.insert_unless_present(
        HolderDevice.__table__, {"holder_id": holder_id, "type": device.type, "cookie_digest": device.digest,
                                 "created_at": utcnow()}, keys=("holder_id", "cookie_digest")))


class HolderService:
    def __init__(self, db: Database, box: SecretBox, caches: CacheRegistry) -> None:
        self._db = db
        self._box = box
        self._me = caches.cache("promo-holders-me", 50_000)  # exact (cielo.cache): the answer, CPF decrypted once

    async def me(self, holder_id: int) -> dict:
        return await self._me.get_or_load(holder_id, lambda: self._load_me(holder_id))

    async def _load_me(self, holder_id: int) -> dict:
        holder = await self._db.first(
            select(Holder.id, Holder.birthdate, Holder.cpf_encrypted, Holder.email, Holder.name, Holder.gender,
                   Holder.phone_area_code, Holder.phone_number).where(Holder.id == holder_id))
        if holder is None:
            raise PromoError(404, "The holder of this Access-Token no longer exists.")
        devices = await self._db.all(
            select(HolderDevice.id, HolderDevice.type).where(HolderDevice.holder_id == holder_id).order_by(HolderDevice.id))
        body = {
            "id": holder.id,
            "birthdate": f"{holder.birthdate.isoformat()}T00:00:00Z",
            "document": self._box.decrypt(holder.cpf_encrypted),
            "email": holder.email,
            "name": holder.name,
            "devices": [{"id": device.id, "type": device.type} for device in devices],
        }
        if holder.gender:
            body["gender"] = holder.gender
        if holder.phone_area_code is not None and holder.phone_number is not None:
            body["phone"] = {"areaCode": holder.phone_area_code, "phoneNumber": holder.phone_number}
        return body
