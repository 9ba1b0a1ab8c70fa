"""Subscriptions of establishments to promotions: the request (202), the queue (200, then 303
once processed), the processed list and items, and requeueing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.promo import openapi as docs
from cielo.promo.environments import Environment
from cielo.promo.pagination import Page
from cielo.promo.requests import json_object, path_id, url_of
from cielo.promo.subscriptions.schemas import QueueItem, Subscription, SubscriptionRequestBody
from cielo.promo.subscriptions.service import queue_item
from cielo.services import services
from cielo.web.http import JSONResponse
from cielo.web.routing import LeanRoute

TAG = "Commercial establishments"


_ESTABLISHMENT = docs.path_id("commercial_establishment_id", "commercial establishment")
_REQUEST = docs.path_id("subscription_id", "subscription request")
_LOCATION_QUEUE = {"Location": docs.header("The request's place in the queue: `…/subscriptions/{id}/queue`.",
                                           {"type": "string"}, required=True)}


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)

    @routes.post("/commercial-establishments/{commercial_establishment_id}/subscriptions", tags=[TAG],
                 status_code=202, summary="Sends a subscription request to a promotion for a Commercial Establishment",
                 response_model=QueueItem,
                 responses=docs.answers({202: docs.ok(QueueItem, "Queued; poll the Location.", headers=_LOCATION_QUEUE)},
                                        docs.BODY_ERRORS),
                 openapi_extra=docs.operation(docs.PARTNER, _ESTABLISHMENT, body=SubscriptionRequestBody,
                                              body_example={"promotionID": 16, "action": "S"}))
    async def subscribe(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        establishment_id = path_id(request, "commercial_establishment_id")
        body = await json_object(request, caller)
        row = await found.subscriptions.request(caller.application, env, establishment_id, body)
        location = url_of(request, env, f"/subscriptions/{row.id}/queue")
        return JSONResponse(queue_item(row), status_code=202, headers={**caller.headers(), "Location": location})

    @routes.get("/commercial-establishments/{commercial_establishment_id}/subscriptions", tags=[TAG],
                summary="Returns the list of processed subscriptions of a Commercial Establishment",
                response_model=list[Subscription],
                responses=docs.answers({200: docs.ok(list[Subscription], "The accepted and processed requests (a "
                                                     "rejected one is not listed; read it by its id): every match "
                                                     "unless paged.", listed=True),
                                        413: docs.UNPAGED_TOO_LARGE}),
                openapi_extra=docs.operation(docs.PARTNER, _ESTABLISHMENT, docs.offset(False), docs.limit(False)))
    async def subscriptions(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        establishment_id = path_id(request, "commercial_establishment_id")
        page = Page.parse(request.query_params, caller.max_page_size, required=False)
        items, total = await found.subscriptions.processed(caller.application, env, establishment_id, page)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @routes.get("/commercial-establishments/{commercial_establishment_id}/subscriptions/{subscription_id}",
                tags=[TAG], summary="Returns the Commercial Establishment subscription to a promotion",
                response_model=Subscription,
                responses=docs.answers({200: docs.ok(Subscription, "The processed request: accepted, or rejected "
                                                     "with its reason.")}),
                openapi_extra=docs.operation(docs.PARTNER, _ESTABLISHMENT, _REQUEST))
    async def subscription(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        body = await found.subscriptions.processed_one(
            caller.application, env, path_id(request, "commercial_establishment_id"),
            path_id(request, "subscription_id"))
        return JSONResponse(body, headers=caller.headers())

    @routes.get("/subscriptions/queue", tags=[TAG], summary="Gets a list of non processed subscriptions",
                response_model=list[QueueItem],
                responses=docs.answers({200: docs.ok(list[QueueItem], "This application's requests not processed yet: "
                                                     "every one unless paged.", listed=True),
                                        413: docs.UNPAGED_TOO_LARGE}),
                openapi_extra=docs.operation(docs.PARTNER, docs.offset(False), docs.limit(False)))
    async def queue(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        page = Page.parse(request.query_params, caller.max_page_size, required=False)
        items, total = await found.subscriptions.queued(caller.application, page)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @routes.get("/subscriptions/{subscription_id}/queue", tags=[TAG],
                summary="Gets the status of non processed subscriptions", response_model=QueueItem,
                responses=docs.answers({
                    200: docs.ok(QueueItem, "Still queued."),
                    303: {"description": "Processed: see the processed request.", "headers": {
                        **docs.RATE_HEADERS,
                        "Location": docs.header("The processed request's address.", {"type": "string"}, required=True)}},
                }),
                openapi_extra=docs.operation(docs.PARTNER, _REQUEST))
    async def queue_entry(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        row = await found.subscriptions.queue_entry(caller.application, path_id(request, "subscription_id"))
        if row.processed_at is None:
            return JSONResponse(queue_item(row), headers=caller.headers())
        location = url_of(request, env, f"/commercial-establishments/{row.establishment_id}/subscriptions/{row.id}")
        return Response(status_code=303, headers={**caller.headers(), "Location": location})

    @routes.patch("/subscriptions/{subscription_id}", tags=[TAG], status_code=204,
                  summary="Updates the status of a subscription",
                  responses=docs.answers({204: {"description": "Queued again.", "headers": docs.RATE_HEADERS}},
                                         docs.BODY_ERRORS),
                  openapi_extra=docs.operation(docs.PARTNER, _REQUEST, body=SubscriptionRequestBody,
                                               body_example={"promotionID": 16, "action": "U"}))
    async def requeue(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        request_id = path_id(request, "subscription_id")
        body = await json_object(request, caller)
        await found.subscriptions.requeue(caller.application, env, request_id, body)
        return Response(status_code=204, headers=caller.headers())

    return routes
