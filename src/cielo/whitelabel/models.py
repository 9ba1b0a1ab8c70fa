from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow


class WhiteLabelAccount(Base):
    __tablename__ = "whitelabel_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The unique constraint is what makes concurrent creates of one name safe.
    canvas_space_name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    api_key: Mapped[str] = mapped_column(String(255), nullable=False)
    # "<key id>:<Fernet token>", see cielo.security.secrets.
    api_secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    customer_name: Mapped[str] = mapped_column(String(255), nullable=False, default="Canvas")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
