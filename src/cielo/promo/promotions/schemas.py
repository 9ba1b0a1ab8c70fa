"""Wire model of a promotion, as partners read it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from cielo.promo.establishments.schemas import CommercialEstablishment

CampaignType = Literal["A", "B", "E", "F", "G", "P", "R", "X", "W"]


class Promotion(BaseModel):
    id: int = Field(examples=[16])
    commercialEstablishment: CommercialEstablishment
    active: bool
    startDate: str = Field(json_schema_extra={"format": "date"}, examples=["2026-12-01"])
    endDate: str = Field(json_schema_extra={"format": "date"}, examples=["2027-01-31"])
    title: str = Field(examples=["Café em dobro"])
    description: str
    premium: str = Field(description="What the holder earns.")
    campaignType: CampaignType = Field(description="A RFM amount, B birthday, E event day, F RFM frequency, G generic, "
                                                   "P punch card, R recurring hour/day, X RFM recency, W welcome.")
    shareable: bool
    campaignModel: str | SkipJsonSchema[None] = None
    transactionDays: str | SkipJsonSchema[None] = None
    validityRedemption: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra={"format": "date"})
    distance: float | SkipJsonSchema[None] = Field(default=None, ge=0,
                                                   description="Meters from the searched point (searches only).")
