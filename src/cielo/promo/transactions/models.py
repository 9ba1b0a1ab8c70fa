from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cielo.db import Base, UTCDateTime, utcnow
from cielo.promo.environments import ENVIRONMENT_CHECK

PURCHASE, CANCELLATION, UNDO = "P", "C", "U"
KINDS = {PURCHASE: "purchase", CANCELLATION: "cancellation", UNDO: "undo"}
COUNTED = "kind = 'P' AND reversed_by_id IS NULL"  # a purchase neither cancelled nor undone


class Transaction(Base):
    """A card transaction at a Cielo Promo establishment: a purchase, or the cancellation or
    undoing of one (``reverses_id``; the purchase then points back with ``reversed_by_id``).
    The card is known by its id; a full card number given at ingestion is fingerprinted and
    discarded. Amounts are integer cents."""
    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint(ENVIRONMENT_CHECK, name="environment"),
        CheckConstraint("kind IN ('P', 'C', 'U')", name="kind"),
        CheckConstraint("amount_cents > 0", name="amount"),
        CheckConstraint("(kind = 'P') = (reverses_id IS NULL)", name="reversal"),
        Index("uq_transactions_external_id", "environment", "external_id", unique=True,
              sqlite_where=text("external_id IS NOT NULL"), postgresql_where=text("external_id IS NOT NULL")),
        # /me/transactions: a holder's purchases, newest first
        Index("ix_transactions_holder", "holder_id", "kind", "occurred_at", "id"),
        # the engine: a holder's counted purchases at an establishment, amounts included (its
        # statements name the kind as a literal, so that a generic plan can use the index)
        Index("ix_transactions_counted", "holder_id", "establishment_id", "occurred_at", "id", "amount_cents",
              sqlite_where=text(COUNTED), postgresql_where=text(COUNTED)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(10), nullable=False)
    kind: Mapped[str] = mapped_column(String(1), nullable=False)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), nullable=False)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id", ondelete="CASCADE"), nullable=False)
    establishment_id: Mapped[int] = mapped_column(
        ForeignKey("commercial_establishments.id", ondelete="CASCADE"), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    product_primary_id: Mapped[int] = mapped_column(Integer, nullable=False)
    product_primary_description: Mapped[str] = mapped_column(String(100), nullable=False)
    product_secondary_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    product_secondary_description: Mapped[str | None] = mapped_column(String(100), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("transactions.id", ondelete="CASCADE"), nullable=True, unique=True)
    reversed_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contains_promotions: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class TransactionReward(Base):
    """What a purchase earned: which promotion, which prize, which rule fired and why. A
    reward taken back (the purchase was reversed, or a recount after another purchase was
    reversed or arrived late) keeps its row with when and why it was withdrawn."""
    __tablename__ = "transaction_rewards"
    __table_args__ = (
        Index("ix_transaction_rewards_transaction", "transaction_id", "id"),
        Index("uq_transaction_rewards_live", "transaction_id", "promotion_id", unique=True,
              sqlite_where=text("withdrawn_at IS NULL"), postgresql_where=text("withdrawn_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id", ondelete="CASCADE"), nullable=False)
    # no foreign key: the reward is a record of what was earned and outlives its promotion
    promotion_id: Mapped[int] = mapped_column(Integer, nullable=False)
    campaign_type: Mapped[str] = mapped_column(String(1), nullable=False)
    premium: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
