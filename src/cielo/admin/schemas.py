from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]*$")]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    term: AnyHttpUrl
    associationType: Literal["AUTOMATIC", "MANUAL"]
    active: bool = True


class PartnerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    term: AnyHttpUrl | None = None
    associationType: Literal["AUTOMATIC", "MANUAL"] | None = None
    active: bool | None = None


class PartnerOut(BaseModel):
    id: int
    environment: str
    name: str
    description: str
    term: str
    associationType: str
    active: bool


class ApplicationOut(BaseModel):
    id: int
    environment: str
    name: str
    clientId: str
    developerId: int
    partnerId: int | None = None
    redirectUrls: list[str]


class ApplicationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partnerId: int | None = Field(default=None, ge=1)
