"""Holder data (API.md §3.2)."""

from __future__ import annotations

from sqlalchemy import select

from cielo.cache import CacheRegistry
from cielo.db import Database
from cielo.promo.errors import PromoError
from cielo.promo.holders.models import Holder
from cielo.security.secrets import SecretBox


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
        body = {
            "id": holder.id,
            "birthdate": f"{holder.birthdate.isoformat()}T00:00:00Z",
            "document": self._box.decrypt(holder.cpf_encrypted),
            "email": holder.email,
            "name": holder.name,
            "devices": [],
        }
        if holder.gender:
            body["gender"] = holder.gender
        if holder.phone_area_code is not None and holder.phone_number is not None:
            body["phone"] = {"areaCode": holder.phone_area_code, "phoneNumber": holder.phone_number}
        return body
