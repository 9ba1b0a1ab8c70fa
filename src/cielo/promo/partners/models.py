from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow
from cielo.promo.environments import ENVIRONMENT_CHECK


class Partner(Base):
    """A partner whose apps use Cielo Promo; cards are associated with partners."""

    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint(ENVIRONMENT_CHECK, name="environment"),
        CheckConstraint("association_type IN ('AUTOMATIC', 'MANUAL')", name="association_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    term_url: Mapped[str] = mapped_column(Text, nullable=False)
    association_type: Mapped[str] = mapped_column(String(9), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
