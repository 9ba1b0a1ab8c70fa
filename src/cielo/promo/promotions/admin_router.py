"""Back office: promotions, with the rules of their campaign type (API.md §3.5, §4)."""

from __future__ import annotations

from fastapi import Depends, Request

from cielo.admin.common import Limit, Offset, admin_actor, admin_router
from cielo.audit.service import Actor
from cielo.ids import PathId
from cielo.promo.environments import Environment
from cielo.promo.promotions.models import Promotion
from cielo.promo.promotions.schemas import PromotionIn, PromotionPatch
from cielo.promo.promotions.service import COLUMNS
from cielo.services import services

router = admin_router()


def out(row: Promotion) -> dict:
    body = {field: getattr(row, column) for field, column in COLUMNS.items()}
    for field in ("startDate", "endDate", "validityRedemption"):
        body[field] = body[field].isoformat() if body[field] is not None else None
    return {"id": row.id, "environment": row.environment, **body}


@router.post("/{env}/promotions", status_code=201)
async def create(env: Environment, body: PromotionIn, request: Request, actor: Actor = Depends(admin_actor)) -> dict:
    return out(await services(request).promotions.create(env, body, actor))


@router.get("/{env}/promotions")
async def list_(env: Environment, request: Request, offset: Offset = 0, limit: Limit = 100):
    return [out(r) for r in await services(request).promotions.list_in(env, offset, limit)]


@router.get("/{env}/promotions/{promotion_id}")
async def get(env: Environment, promotion_id: PathId, request: Request) -> dict:
    return out(await services(request).promotions.find(env, promotion_id))


@router.patch("/{env}/promotions/{promotion_id}")
async def patch(env: Environment, promotion_id: PathId, body: PromotionPatch, request: Request,
                actor: Actor = Depends(admin_actor)) -> dict:
    return out(await services(request).promotions.modify(env, promotion_id, body, actor))
