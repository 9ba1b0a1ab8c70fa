"""Commercial establishments and partner grants on the wire (the back office, CONTRACT §3.3, §4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cielo.ids import BodyId
from cielo.text import Name, line


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: line(200) | None = None
    number: line(20) | None = None
    complement: line(100) | None = None
    district: line(100) | None = None
    city: line(100) | None = None
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
