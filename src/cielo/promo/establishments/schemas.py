"""Wire models of commercial establishments, as partners read them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BusinessActivity(BaseModel):
    id: int = Field(description="The establishment's business activity (MCC-like code).", examples=[5812])


class CommercialEstablishment(BaseModel):
    """An establishment that uses Cielo Promo."""

    id: int = Field(examples=[1])
    fictitiousName: str = Field(description="The name the establishment trades under.", examples=["Padaria Paulista"])
    businessActivity: BusinessActivity
