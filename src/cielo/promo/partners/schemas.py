"""Partners on the wire (the back office, API.md §4)."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict

from cielo.text import Description, Name


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
