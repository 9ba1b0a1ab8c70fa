"""Wire models of subscription requests: the body partners send, the queue, the processed."""

from __future__ import annotations

from datetime import datetime
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
    reason: str | SkipJsonSchema[None] = Field(
        default=None, description="Why it was rejected: a rule refused it, or it could not be processed and was set "
                                  "aside after failing several times (send it again with PATCH /subscriptions/{id}).")


class SubscriptionRequestOut(BaseModel):
    """A subscription request as the back office sees it, with its processing's failures."""

    id: int
    environment: Literal["production", "sandbox"]
    applicationId: int
    commercialEstablishmentId: int
    promotionId: int
    action: Literal["S", "U"]
    state: Literal["QUEUED", "ACCEPTED", "REJECTED", "FAILED"] = Field(
        description="QUEUED until processed; FAILED: set aside after failing `attempts` times (shown to the partner as "
                    "REJECTED with a reason saying so).")
    requestedAt: datetime
    processedAt: datetime | None
    reason: str | None = Field(description="The reason the partner reads on a REJECTED or FAILED request.")
    attempts: int = Field(description="Failed processing attempts so far.")
    retryAt: datetime | None = Field(description="Not tried again before this instant (a QUEUED request that failed).")
    failure: str | None = Field(description="The last processing error, kept until the request is processed.")
