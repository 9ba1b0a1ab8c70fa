"""Promotions on the wire (the back office, CONTRACT §3.5, §4). The Promotions API's own
answers are shaped in service.py."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cielo.ids import BodyId
from cielo.promo.promotions import rules as campaign_rules
from cielo.text import Description, Name, line

Premium = line(200, min_length=1)


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
    campaignModel: line(100) | None = None
    transactionDays: line(100) | None = None
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
    campaignModel: line(100) | None = None
    transactionDays: line(100) | None = None
    validityRedemption: date | None = None
    shareable: bool | None = None
