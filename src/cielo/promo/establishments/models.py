from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow
from cielo.promo.environments import ENVIRONMENT_CHECK


class CommercialEstablishment(Base):
    __tablename__ = "commercial_establishments"
    __table_args__ = (
        CheckConstraint(ENVIRONMENT_CHECK, name="environment"),
        CheckConstraint("document_type IN ('CNPJ', 'CPF')", name="document_type"),
        CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="coordinates"),
        Index("ix_establishments_document", "environment", "document"),
        Index("ix_establishments_cnpj_root", "environment", "cnpj_root"),
        # The PostgreSQL spatial index: bounding-box range scans (SQLite also has an R*Tree,
        # establishment_rtree, kept by triggers; see migration 0006).
        Index("ix_establishments_location", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False)
    document_type: Mapped[str] = mapped_column(String(4), nullable=False)
    document: Mapped[str] = mapped_column(String(14), nullable=False)  # compact CNPJ or CPF
    cnpj_root: Mapped[str | None] = mapped_column(String(8), nullable=True)
    fictitious_name: Mapped[str] = mapped_column(String(100), nullable=False)
    business_activity_id: Mapped[int] = mapped_column(Integer, nullable=False)
    latitude: Mapped[float] = mapped_column(Float, nullable=False)
    longitude: Mapped[float] = mapped_column(Float, nullable=False)
    address: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # bumped by triggers when an accepted subscription or a subscribed promotion changes
    # (migration 0010): the key of the campaign engine's in-memory campaigns
    campaigns_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class EstablishmentGrant(Base):
    """A partner may act for an establishment (by id) or for every establishment of a CNPJ
    root (the first 8 characters: one company, all its branches)."""

    __tablename__ = "establishment_grants"
    __table_args__ = (
        CheckConstraint("(establishment_id IS NULL) <> (cnpj_root IS NULL)", name="one_target"),
        Index("ix_establishment_grants_partner", "partner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), nullable=False)
    establishment_id: Mapped[int | None] = mapped_column(
        ForeignKey("commercial_establishments.id", ondelete="CASCADE"), nullable=True
    )
    cnpj_root: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
