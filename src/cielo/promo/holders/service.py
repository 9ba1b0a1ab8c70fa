"""Holder data (CONTRACT §3.2)."""

from __future__ import annotations

from sqlalchemy import select

from cielo.db import Database
from cielo.promo.errors import PromoError
from cielo.promo.holders.models import Holder
from cielo.security.secrets import SecretBox


class HolderService:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box

    async def me(self, holder_id: int) -> dict:
        async with self._db.read() as session:
            holder = await session.scalar(select(Holder).where(Holder.id == holder_id))
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
