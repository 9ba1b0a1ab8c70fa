"""Wire models of the holder's cards."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class CardPartner(BaseModel):
    """A partner (loyalty programme) the card takes part in, with ``_expand=partners``."""

    id: int
    name: str
    description: str
    term: str = Field(description="Address of the partner's terms.")
    associationType: Literal["AUTOMATIC", "MANUAL"]
    statusAssociation: bool = Field(description="Whether the card is associated (automatic ones at once).")


class Card(BaseModel):
    """A card; its number is never stored, only its brand, last four digits and a fingerprint."""

    id: int = Field(examples=[1])
    nickname: str | SkipJsonSchema[None] = Field(default=None, description="Absent when the holder gave none.")
    brand: str = Field(examples=["Visa"])
    maskedPan: str = Field(examples=["************1111"])
    type: Literal["DEBIT", "CREDIT", "MULTIPLE"]
    status: Literal["STRONG", "WEAK"] = Field(description="STRONG once the zero-amount check approved the card.")
    partners: list[CardPartner] | SkipJsonSchema[None] = Field(default=None, description="With `_expand=partners`.")
