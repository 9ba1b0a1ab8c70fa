"""Applications on the wire (the back office, API.md §4; the panel itself speaks HTML forms)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cielo.ids import BodyId


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

    partnerId: BodyId | None = None
