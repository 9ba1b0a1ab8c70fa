"""Back office: promotions, with the rules of their campaign type (CONTRACT §3.5, §4)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select

from cielo.admin.common import Limit, Offset, Refused, admin_actor, in_environment
from cielo.admin.schemas import PromotionIn, PromotionPatch
from cielo.audit import service as audit
from cielo.audit.service import Actor
from cielo.ids import PathId
from cielo.promo.environments import Environment
from cielo.promo.establishments.models import CommercialEstablishment
from cielo.promo.promotions import rules as campaign_rules
from cielo.promo.promotions.models import Promotion
from cielo.services import services

router = APIRouter(prefix="/admin/v1", tags=["Back office"], dependencies=[Depends(admin_actor)])

_COLUMNS = {
    "commercialEstablishmentId": "establishment_id", "title": "title", "description": "description",
    "campaignType": "campaign_type", "startDate": "start_date", "endDate": "end_date", "active": "active",
    "premium": "premium", "rules": "rules", "campaignModel": "campaign_model", "transactionDays": "transaction_days",
    "validityRedemption": "validity_redemption", "shareable": "shareable",
}


def out(row: Promotion) -> dict:
    body = {field: getattr(row, column) for field, column in _COLUMNS.items()}
    for field in ("startDate", "endDate", "validityRedemption"):
        body[field] = body[field].isoformat() if body[field] is not None else None
    return {"id": row.id, "environment": row.environment, **body}


async def _establishment(session, env: Environment, establishment_id: PathId) -> None:
    await in_environment(session, CommercialEstablishment, env, establishment_id, "commercial establishment",
                         error=Refused)


def checked_rules(row_like: dict) -> dict:
    """The normalised rules of a promotion's columns, or ValueError with a sentence (the API
    and the import command share it)."""
    if row_like["start_date"] > row_like["end_date"]:
        raise ValueError("startDate must not be after endDate.")
    return campaign_rules.validate(row_like["campaign_type"], row_like["rules"])


def _check(row_like: dict) -> dict:
    try:
        return checked_rules(row_like)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def promotion_values(env: Environment, body: PromotionIn) -> dict:
    values = {column: getattr(body, field) for field, column in _COLUMNS.items()}
    values["rules"] = checked_rules(values)
    return {"environment": env.value, **values}


@router.post("/{env}/promotions", status_code=201)
async def create(env: Environment, body: PromotionIn, request: Request, actor: Actor = Depends(admin_actor)) -> dict:
    values = {column: getattr(body, field) for field, column in _COLUMNS.items()}
    values["rules"] = _check(values)
    row = Promotion(environment=env.value, **values)
    async with services(request).db.write() as session:
        await _establishment(session, env, body.commercialEstablishmentId)
        session.add(row)
        await session.flush()
        audit.record(session, actor, "create", "promotion", str(row.id), {"fields": sorted(body.model_fields_set)})
    return out(row)


@router.get("/{env}/promotions")
async def list_(env: Environment, request: Request, offset: Offset = 0, limit: Limit = 100):
    async with services(request).db.read() as session:
        rows = (await session.scalars(
            select(Promotion).where(Promotion.environment == env.value).order_by(Promotion.id).offset(offset).limit(limit)
        )).all()
    return [out(r) for r in rows]


async def _own(session, env: Environment, promotion_id: PathId, *, lock: bool = False) -> Promotion:
    return await in_environment(session, Promotion, env, promotion_id, "promotion", lock=lock)


@router.get("/{env}/promotions/{promotion_id}")
async def get(env: Environment, promotion_id: PathId, request: Request) -> dict:
    async with services(request).db.read() as session:
        return out(await _own(session, env, promotion_id))


@router.patch("/{env}/promotions/{promotion_id}")
async def patch(env: Environment, promotion_id: PathId, body: PromotionPatch, request: Request,
                actor: Actor = Depends(admin_actor)) -> dict:
    changes = body.model_dump(exclude_unset=True)
    nullable = {"campaignModel", "transactionDays", "validityRedemption"}
    async with services(request).db.write() as session:
        row = await _own(session, env, promotion_id, lock=True)
        values = {column: getattr(row, column) for column in _COLUMNS.values()}
        for field, value in changes.items():
            if value is None and field not in nullable:
                raise HTTPException(400, f"The '{field}' field must not be null.")
            values[_COLUMNS[field]] = value
        values["rules"] = _check(values)
        if "commercialEstablishmentId" in changes:
            await _establishment(session, env, values["establishment_id"])
        for column, value in values.items():
            setattr(row, column, value)
        audit.record(session, actor, "modify", "promotion", str(row.id), {"fields": sorted(changes)})
        await session.flush()
        return out(row)
