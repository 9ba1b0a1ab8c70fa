from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow
from cielo.promo.environments import ENVIRONMENT_CHECK


class Holder(Base):
    """A card holder of one environment. The CPF is kept encrypted, and found through a keyed
    fingerprint (HMAC), so the table never shows it in clear."""

    __tablename__ = "holders"
    __table_args__ = (
        CheckConstraint(ENVIRONMENT_CHECK, name="environment"),
        UniqueConstraint("environment", "cpf_fingerprint", name="uq_holders_environment_cpf"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False)
    cpf_fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    cpf_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    email: Mapped[str] = mapped_column(String(100), nullable=False)
    birthdate: Mapped[date] = mapped_column(Date, nullable=False)
    gender: Mapped[str | None] = mapped_column(String(6), nullable=True)
    phone_area_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    phone_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class HolderDevice(Base):
    """A phone (Android or iOS) a holder signed up or in from, one row per device: the device
    is recognised by the long-lived cookie its browser carries (holders/devices.py), of which
    only a digest is kept."""

    __tablename__ = "holder_devices"
    __table_args__ = (
        CheckConstraint("type IN ('ANDROID', 'IOS')", name="type"),
        # also the index of a holder's devices (/me)
        UniqueConstraint("holder_id", "cookie_digest", name="uq_holder_devices_holder_cookie"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id", ondelete="CASCADE"), nullable=False)
    type: Mapped[str] = mapped_column(String(7), nullable=False)
    cookie_digest: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
