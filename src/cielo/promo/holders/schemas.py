"""Wire model of ``/me``: the signed-in holder."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class Phone(BaseModel):
    areaCode: int = Field(description="Brazilian area code (DDD).", examples=[11])
    phoneNumber: int = Field(examples=[987654321])


class Device(BaseModel):
    """A phone the holder signed in from."""

    id: int
    type: Literal["ANDROID", "IOS"]


class Holder(BaseModel):
    id: int = Field(examples=[1])
    birthdate: str = Field(description="The birth date, as a date-time at midnight UTC.", examples=["1990-05-17T00:00:00Z"],
                           json_schema_extra={"format": "date-time"})
    document: str = Field(description="The holder's CPF, 11 digits.", pattern=r"^[0-9]{11}$", examples=["39053344705"])
    email: str = Field(max_length=100, examples=["maria@example.com"])
    gender: Literal["FEMALE", "MALE"] | SkipJsonSchema[None] = Field(default=None, description="When the holder gave it.")
    name: str = Field(max_length=100, examples=["Maria Silva"])
    phone: Phone | SkipJsonSchema[None] = Field(default=None, description="When the holder gave one.")
    devices: list[Device] = Field(description="The phones the holder signed in from, one entry per device.")
