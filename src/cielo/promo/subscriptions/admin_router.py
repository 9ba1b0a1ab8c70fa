"""Back office: the subscription queue, with what failed and why (API.md §3.3, §4)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request

from cielo.admin.common import PREFIX, TAG, Limit, Offset, admin_actor
from cielo.ids import PathId
from cielo.promo.environments import Environment
from cielo.promo.subscriptions.schemas import SubscriptionRequestOut
from cielo.services import services

router = APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(admin_actor)])


@router.get("/{env}/subscription-requests", response_model=list[SubscriptionRequestOut])
async def list_(env: Environment, request: Request, state: Literal["QUEUED", "FAILED"] | None = None,
                offset: Offset = 0, limit: Limit = 100):
    """The environment's subscription requests, oldest first: every one, those still queued, or
    those set aside after failing (``state``)."""
    return await services(request).subscriptions.admin_list(env, state, offset, limit)


@router.get("/{env}/subscription-requests/{request_id}", response_model=SubscriptionRequestOut)
async def get(env: Environment, request_id: PathId, request: Request):
    return await services(request).subscriptions.admin_one(env, request_id)
