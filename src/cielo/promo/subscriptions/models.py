from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow


class SubscriptionRequest(Base):
    """A subscribe (S) or unsubscribe (U) request: queued until a worker processes it, then
    ACCEPTED (1) or REJECTED (2, with a reason). Processed requests are the history of an
    establishment's subscriptions.

    A request whose processing fails (an error, not a verdict) is tried again no sooner than
    ``retry_at``; after the configured number of ``attempts`` it is set aside: processed,
    REJECTED, its reason saying so and ``failure`` the last error (API.md §3.3)."""

    __tablename__ = "subscription_requests"
    __table_args__ = (
        CheckConstraint("action IN ('S', 'U')", name="action"),
        CheckConstraint("status IS NULL OR status IN (1, 2)", name="status"),
        Index("ix_subscription_requests_queue", "processed_at", "id"),
        Index("ix_subscription_requests_establishment", "establishment_id", "processed_at", "id"),
        Index("ix_subscription_requests_application", "application_id", "processed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), nullable=False)
    establishment_id: Mapped[int] = mapped_column(
        ForeignKey("commercial_establishments.id", ondelete="CASCADE"), nullable=False
    )
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), nullable=False)
    action: Mapped[str] = mapped_column(String(1), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)


class EstablishmentSubscription(Base):
    """Whether an establishment is subscribed to a promotion now, kept by the processor in the
    transaction that accepts a request."""

    __tablename__ = "establishment_subscriptions"

    establishment_id: Mapped[int] = mapped_column(
        ForeignKey("commercial_establishments.id", ondelete="CASCADE"), primary_key=True
    )
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    request_id: Mapped[int] = mapped_column(Integer, nullable=False)
