"""Back office: transaction ingestion (one or a batch), cancellation and undo, and the
explanation of what a transaction earned (API.md §4). The rules live in service.py and
parsing.py; these routes only carry JSON in and out."""

from __future__ import annotations

from fastapi import Body, Depends, Request

from cielo.admin.common import Limit, Offset, admin_actor, admin_router
from cielo.audit.service import Actor
from cielo.ids import PathId, QueryId
from cielo.promo.environments import Environment
from cielo.promo.transactions.models import CANCELLATION, UNDO
from cielo.promo.transactions.parsing import SCHEMA, ItemError, moment
from cielo.promo.transactions.service import MAX_BATCH, IngestError
from cielo.services import services
from cielo.web.http import JSONResponse, json_body

router = admin_router()

TRANSACTION_EXAMPLE = {"cardId": 1, "commercialEstablishmentId": 1, "amount": "20.00",
                       "occurredAt": "2026-11-24T12:30:00-03:00", "productPrimary": {"id": 1, "description": "Crédito"},
                       "externalId": "pos-123"}


async def _json(request: Request):
    return await json_body(request, IngestError, empty=None)


@router.post("/{env}/transactions", status_code=201,
             responses={200: {"description": "A transaction with this externalId was ingested before: that one."}},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": SCHEMA, "example": TRANSACTION_EXAMPLE}}}})
async def ingest_one(env: Environment, request: Request, actor: Actor = Depends(admin_actor)):
    """One transaction; a repeated externalId answers 200 with the first one."""
    service = services(request).transactions
    body = await _json(request)
    if not isinstance(body, dict):
        raise IngestError(400, "The request body must be a transaction object.")
    [(transaction, created)] = await service.ingest(env, [body], actor)
    return JSONResponse(transaction, status_code=201 if created else 200)


@router.post("/{env}/transactions/batch", status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "additionalProperties": False, "required": ["transactions"],
                            "properties": {"transactions": {"type": "array", "items": SCHEMA, "minItems": 1,
                                                            "maxItems": MAX_BATCH}}},
                 "example": {"transactions": [TRANSACTION_EXAMPLE]}}}}})
async def ingest_batch(env: Environment, request: Request, actor: Actor = Depends(admin_actor)):
    """Up to 1,000 transactions, all or nothing: a bad item refuses the whole batch, and the
    answer names every bad item with its index and reason."""
    service = services(request).transactions
    body = await _json(request)
    if not isinstance(body, dict) or set(body) != {"transactions"}:
        raise IngestError(400, "The request body must be an object {\"transactions\": [...]}.")
    results = await service.ingest(env, body["transactions"], actor)
    created = sum(1 for _, c in results if c)
    return JSONResponse({"transactions": [t for t, _ in results], "created": created}, status_code=201)


@router.get("/{env}/transactions")
async def list_(env: Environment, request: Request, holderId: QueryId = None, cardId: QueryId = None,
                commercialEstablishmentId: QueryId = None, offset: Offset = 0, limit: Limit = 100):
    return await services(request).transactions.list_in(env, holder_id=holderId, card_id=cardId,
                                                        establishment_id=commercialEstablishmentId,
                                                        offset=offset, limit=limit)


@router.get("/{env}/transactions/{transaction_id}")
async def get(env: Environment, transaction_id: PathId, request: Request):
    """The transaction and what it earned: each promotion, its prize, the rule that fired and
    why — and, for a reward taken back, when and why."""
    return await services(request).transactions.one(env, transaction_id)


async def _reverse(env: Environment, transaction_id: int, kind: str, request: Request, actor: Actor):
    body = await _json(request)
    if body is None:
        body = {}
    if not isinstance(body, dict) or set(body) - {"occurredAt"}:
        raise IngestError(400, "The request body must be {} or {\"occurredAt\": \"<ISO 8601 date-time>\"}.")
    try:
        occurred_at = moment(body["occurredAt"]) if body.get("occurredAt") is not None else None
    except ItemError as exc:
        raise IngestError(400, str(exc)[0].upper() + str(exc)[1:]) from None
    transaction = await services(request).transactions.reverse(env, transaction_id, kind, occurred_at, actor)
    return JSONResponse(transaction, status_code=201)


@router.post("/{env}/transactions/{transaction_id}/cancellation", status_code=201)
async def cancel(env: Environment, transaction_id: PathId, request: Request, actor: Actor = Depends(admin_actor),
                 _body: dict | None = Body(None, examples=[{}, {"occurredAt": "2026-11-24T18:00:00-03:00"}])):
    return await _reverse(env, transaction_id, CANCELLATION, request, actor)


@router.post("/{env}/transactions/{transaction_id}/undo", status_code=201)
async def undo(env: Environment, transaction_id: PathId, request: Request, actor: Actor = Depends(admin_actor),
               _body: dict | None = Body(None, examples=[{}])):
    return await _reverse(env, transaction_id, UNDO, request, actor)
