from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cielo.ids import BodyId
from cielo.promo.promotions import rules as campaign_rules
from cielo.text import Description, Name
from cielo.text import line as _line


Premium = _line(200, min_length=1)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: _line(200) | None = None
    number: _line(20) | None = None
    complement: _line(100) | None = None
    district: _line(100) | None = None
    city: _line(100) | None = None
    state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    zipCode: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}-?[0-9]{3}$")] | None = None


Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class EstablishmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fictitiousName: Name
    businessActivityId: int = Field(ge=1, le=2_147_483_647)
    cnpj: str | None = None
    cpf: str | None = None
    latitude: Latitude
    longitude: Longitude
    address: Address = Address()
    active: bool = True


class EstablishmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fictitiousName: Name | None = None
    businessActivityId: int | None = Field(default=None, ge=1, le=2_147_483_647)
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    address: Address | None = None
    active: bool | None = None


class EstablishmentOut(BaseModel):
    id: int
    environment: str
    fictitiousName: str
    businessActivityId: int
    cnpj: str | None = None
    cpf: str | None = None
    latitude: float
    longitude: float
    address: dict
    active: bool


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commercialEstablishmentId: BodyId | None = None
    cnpjRoot: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{8}$")] | None = None


class GrantOut(BaseModel):
    id: int
    partnerId: int
    commercialEstablishmentId: int | None = None
    cnpjRoot: str | None = None


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
    campaignModel: _line(100) | None = None
    transactionDays: _line(100) | None = None
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
    campaignModel: _line(100) | None = None
    transactionDays: _line(100) | None = None
    validityRedemption: date | None = None
    shareable: bool | None = None
