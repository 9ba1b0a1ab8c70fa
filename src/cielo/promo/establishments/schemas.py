"""Commercial establishments and partner grants on the wire (the back office, API.md §3.3, §4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cielo.ids import BodyId
from cielo.text import Line20, Line100, Line200, Name


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Line200 | None = None
    number: Line20 | None = None
    complement: Line100 | None = None
    district: Line100 | None = None
    city: Line100 | None = None
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


# ---- as partners read them (the Promotions API) ----

class BusinessActivity(BaseModel):
    id: int = Field(description="The establishment's business activity (MCC-like code).", examples=[5812])


class CommercialEstablishment(BaseModel):
    """An establishment that uses Cielo Promo."""

    id: int = Field(examples=[1])
    fictitiousName: str = Field(description="The name the establishment trades under.", examples=["Padaria Paulista"])
    businessActivity: BusinessActivity
