from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow


class SandboxSeed(Base):
    """One row per seeded size: what `cielo sandbox seed --json` prints, encrypted (it holds
    the sandbox application's secret and token and the test holders' passwords), so a second
    run prints the same document instead of seeding again."""

    __tablename__ = "sandbox_seeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[str] = mapped_column(String(10), unique=True, nullable=False)
    document_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
