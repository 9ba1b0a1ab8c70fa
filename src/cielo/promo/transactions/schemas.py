"""Wire models of the holder's purchases (``/me/transactions``)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from cielo.promo.establishments.schemas import CommercialEstablishment


class Product(BaseModel):
    id: int = Field(examples=[1])
    description: str | SkipJsonSchema[None] = Field(default=None, examples=["Crédito à vista"])


class TransactionData(BaseModel):
    id: int = Field(examples=[53])
    commercialEstablishment: CommercialEstablishment
    productPrimary: Product | SkipJsonSchema[None] = None
    productSecondary: Product | SkipJsonSchema[None] = None
    containsPromotions: bool = Field(description="Whether a promotion of the establishment rewarded the purchase.")


class Transaction(TransactionData):
    """A purchase, newest first; with the transaction that cancelled or undid it, if any."""

    transactionCancelled: TransactionData | SkipJsonSchema[None] = None
    transactionUndone: TransactionData | SkipJsonSchema[None] = None
