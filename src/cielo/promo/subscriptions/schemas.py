"""Wire models of subscription requests: the body partners send, the queue, the processed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class SubscriptionRequestBody(BaseModel):
    promotionID: int = Field(ge=1, description="The promotion to subscribe to or leave.", examples=[16])
    action: Literal["S", "U"] = Field(description="S subscribes, U unsubscribes.")


class QueueItem(BaseModel):
    """A request not processed yet."""

    id: int = Field(examples=[3])
    promotionId: int = Field(examples=[16])
    subscriptionDate: str = Field(json_schema_extra={"format": "date"}, examples=["2026-12-07"])
    action: Literal["S", "U"]


class SubscriptionStatus(BaseModel):
    id: Literal[1, 2] = Field(description="1 accepted, 2 rejected.")
    description: Literal["ACCEPTED", "REJECTED"]


class Subscription(BaseModel):
    """A processed request: accepted, or rejected with its reason."""

    id: int
    promotionId: int
    status: SubscriptionStatus
    action: Literal["S", "U"]
    subscriptionDate: str = Field(json_schema_extra={"format": "date"})
    processingDate: str = Field(json_schema_extra={"format": "date"})
    reason: str | SkipJsonSchema[None] = Field(default=None, description="Why it was rejected.")
