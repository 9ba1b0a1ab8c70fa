"""Wire model of ``/me``: the signed-in holder (API.md §3.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class Phone(BaseModel):
    """The Brazilian number the holder gave on the sign-up form."""

    areaCode: int = Field(description="The area code (DDD), one in use in Brazil.", ge=11, le=99, examples=[11],
                          json_schema_extra={"format": "int32"})
    phoneNumber: int = Field(description="The number without its area code: 8 digits for a landline, 9 beginning "
                                         "with 9 for a mobile.", ge=10_000_000, le=999_999_999, examples=[987654321],
                             json_schema_extra={"format": "int32"})


class Device(BaseModel):
    """A phone the holder signed up or in from (an Android or iOS browser), recognised again by
    a long-lived cookie: one entry per device."""

    id: int = Field(description="The device's identifier.", examples=[7])
    type: Literal["ANDROID", "IOS"] = Field(description="The device's platform, told by its browser.")


class Holder(BaseModel):
    id: int = Field(examples=[1])
    birthdate: str = Field(description="The birth date, as a date-time at midnight UTC.", examples=["1990-05-17T00:00:00Z"],
                           json_schema_extra={"format": "date-time"})
    document: str = Field(description="The holder's CPF, 11 digits.", pattern=r"^[0-9]{11}$", examples=["39053344705"])
    email: str = Field(max_length=100, examples=["maria@example.com"])
    gender: Literal["FEMALE", "MALE"] | SkipJsonSchema[None] = Field(
        default=None, description="When the holder gave it on the sign-up form (optional there).")
    name: str = Field(max_length=100, examples=["Maria Silva"])
    phone: Phone | SkipJsonSchema[None] = Field(default=None, description="When the holder gave one on the sign-up "
                                                                           "form (optional there).")
    devices: list[Device] = Field(description="The phones the holder signed up or in from, one entry per device; "
                                              "a desktop browser adds none.",
                                  examples=[[{"id": 7, "type": "ANDROID"}]])
