"""Promotions on the wire (the back office, API.md §3.5, §4). The Promotions API's own
answers are shaped in service.py."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from cielo.ids import BodyId
from cielo.promo.establishments.schemas import CommercialEstablishment
from cielo.promo.promotions import rules as campaign_rules
from cielo.text import Description, Line100, Name, Prize

Premium = Prize


def _rules_by_campaign_type(schema: dict) -> None:
    """The OpenAPI description of a promotion's rules: each campaign type's own parameters."""
    schema["oneOf"] = [{"properties": {"campaignType": {"const": kind}, "rules": campaign_rules.json_schema(kind)}}
                       for kind in campaign_rules.PARAMS]


class PromotionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_rules_by_campaign_type)

    commercialEstablishmentId: BodyId
    title: Name
    description: Description = ""
    campaignType: Literal["A", "B", "E", "F", "G", "P", "R", "X", "W"]
    startDate: date
    endDate: date
    active: bool = True
    premium: Premium
    rules: dict = Field(default_factory=dict)
    campaignModel: Line100 | None = None
    transactionDays: Line100 | None = None
    validityRedemption: date | None = None
    shareable: bool = False


class PromotionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commercialEstablishmentId: BodyId | None = None
    title: Name | None = None
    description: Description | None = None
    campaignType: Literal["A", "B", "E", "F", "G", "P", "R", "X", "W"] | None = None
    startDate: date | None = None
    endDate: date | None = None
    active: bool | None = None
    premium: Premium | None = None
    rules: dict | None = None
    campaignModel: Line100 | None = None
    transactionDays: Line100 | None = None
    validityRedemption: date | None = None
    shareable: bool | None = None


# ---- as partners read them (the Promotions API) ----

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
