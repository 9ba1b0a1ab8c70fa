from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow
from cielo.promo.environments import ENVIRONMENT_CHECK


class Developer(Base):
    __tablename__ = "developers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # Stored lower-cased: one account per address whatever its spelling.
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class DeveloperSession(Base):
    """A signed-in browser. The cookie holds the token; only its digest is stored."""

    __tablename__ = "developer_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    developer_id: Mapped[int] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), nullable=False, index=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True, nullable=False)
    secret_digest: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Application(Base):
    """A partner application: its Client ID, hashed client secret and redirect URLs."""

    __tablename__ = "applications"
    __table_args__ = (CheckConstraint(ENVIRONMENT_CHECK, name="environment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    developer_id: Mapped[int] = mapped_column(ForeignKey("developers.id", ondelete="CASCADE"), nullable=False, index=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    client_id: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    client_secret_digest: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    redirect_urls: Mapped[list] = mapped_column(JSON, nullable=False)
    # The holder profile: limits applied per holder access token (API.md §2).
    holder_requests_per_minute: Mapped[int] = mapped_column(Integer, nullable=False, default=120)
    holder_max_page_size: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    partner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppAccessToken(Base):
    """An application Access-Token and its access profile. Found by its public id and checked
    against the digest; a sandbox token is also kept encrypted, so that its developer can see
    it again (docs/SECURITY.md), a production one never is."""

    __tablename__ = "app_access_tokens"
    __table_args__ = (Index("ix_app_access_tokens_application", "application_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    public_id: Mapped[str] = mapped_column(String(12), unique=True, nullable=False)
    secret_digest: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    # The whole token under the secret keys (security/secrets.py); None for production tokens
    # and for sandbox tokens made before migration 0017 (those cannot be shown again).
    secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    requests_per_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    max_page_size: Mapped[int] = mapped_column(Integer, nullable=False)
    max_body_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    api_groups: Mapped[list] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
