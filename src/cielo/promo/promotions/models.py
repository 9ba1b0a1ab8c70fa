from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow
from cielo.promo.environments import ENVIRONMENT_CHECK

CAMPAIGN_TYPES = ("A", "B", "E", "F", "G", "P", "R", "X", "W")


class Promotion(Base):
    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint(ENVIRONMENT_CHECK, name="environment"),
        CheckConstraint("campaign_type IN ('A', 'B', 'E', 'F', 'G', 'P', 'R', 'X', 'W')", name="campaign_type"),
        CheckConstraint("start_date <= end_date", name="dates"),
        Index("ix_promotions_establishment", "establishment_id", "id"),
        # The establishment's point and active flag, kept by triggers (migration 0009): the
        # PostgreSQL spatial index; SQLite also has an R*Tree of the point, promotion_rtree.
        Index("ix_promotions_location", "environment", "latitude", "longitude",
              postgresql_include=["id", "active", "campaign_type", "establishment_active"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False)
    establishment_id: Mapped[int] = mapped_column(
        ForeignKey("commercial_establishments.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    campaign_type: Mapped[str] = mapped_column(String(1), nullable=False)
    campaign_model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    transaction_days: Mapped[str | None] = mapped_column(String(100), nullable=True)
    premium: Mapped[str] = mapped_column(String(200), nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date] = mapped_column(Date, nullable=False)
    validity_redemption: Mapped[date | None] = mapped_column(Date, nullable=True)
    shareable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True, server_default=FetchedValue())
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True, server_default=FetchedValue())
    establishment_active: Mapped[bool | None] = mapped_column(Boolean, nullable=True, server_default=FetchedValue())
    rules: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class PromotionChange(Base):
    """A promotion written (inserted, updated or deleted), logged by triggers (migration 0012)
    so that every process's in-memory search index can re-read just what changed. ``xid`` is
    the writing transaction's id on PostgreSQL (set by the database); unused on SQLite, where
    ``seq`` is already the order of commits."""

    __tablename__ = "promotion_changes"
    __table_args__ = (Index("ix_promotion_changes_xid", "xid"), {"sqlite_autoincrement": True})

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    promotion_id: Mapped[int] = mapped_column(Integer, nullable=False)
    xid: Mapped[int | None] = mapped_column(BigInteger, nullable=True, server_default=FetchedValue())


class PromotionChangesHorizon(Base):
    """One row: the log has been pruned up to ``upto`` (a sequence number on SQLite, a
    transaction id on PostgreSQL); a reader that last looked before it must load everything."""

    __tablename__ = "promotion_changes_horizon"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    upto: Mapped[int] = mapped_column(BigInteger, nullable=False)
