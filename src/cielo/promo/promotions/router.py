"""``/promotions``: promotions near a point, and one promotion."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.promo import openapi as docs
from cielo.promo.environments import Environment
from cielo.promo.pagination import Page
from cielo.promo.promotions.schemas import Promotion
from cielo.promo.promotions.service import Search
from cielo.promo.requests import path_id
from cielo.services import services
from cielo.web.http import JSONResponse, query_of
from cielo.web.routing import LeanRoute

TAG = "Promotions"


_SORT_KEYS = "(distance|startDate|endDate|title|id)"
_SEARCH = [
    docs.parameter("latitude", "query", "Latitude of the point, in degrees.", {"type": "number", "minimum": -90, "maximum": 90},
                   required=True, example=-23.5614),
    docs.parameter("longitude", "query", "Longitude of the point, in degrees.",
                   {"type": "number", "minimum": -180, "maximum": 180}, required=True, example=-46.6559),
    docs.parameter("radius", "query", "Distance from the point, in meters.", {"type": "integer", "minimum": 1, "maximum": 50_000},
                   required=True, example=2000),
    docs.parameter("active", "query", "Only active (`true`) or only inactive (`false`) promotions; both when absent.",
                   {"type": "boolean"}),
    docs.parameter("type", "query", "One or more campaign types, comma-separated.",
                   {"type": "string", "pattern": "^[ABEFGPRXW](,[ABEFGPRXW])*$"}, example="W,G"),
    docs.parameter("_sort", "query", "Comma-separated keys among distance, startDate, endDate, title and id, each "
                   "optionally prefixed with `-` (descending); `distance` by default.",
                   {"type": "string", "pattern": f"^-?{_SORT_KEYS}(,-?{_SORT_KEYS})*$"},
                   example="-startDate,distance"),
]


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)

    @routes.get("/promotions", tags=[TAG], summary="Gets a list of promotions", response_model=list[Promotion],
                responses=docs.answers({200: docs.ok(list[Promotion], "Promotions of the establishments within the "
                                                     "radius, nearest first unless sorted otherwise.", listed=True)}),
                openapi_extra=docs.operation(docs.PARTNER, *_SEARCH, docs.offset(True), docs.limit(True)))
    async def promotions(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        query = query_of(request)
        search = Search.parse(query)
        page = Page.parse(query, caller.max_page_size, required=True)
        body, total = await found.promotions.search_json(env, search, page)
        return Response(body, media_type="application/json", headers={**caller.headers(), **page.headers(request, total)})

    @routes.get("/promotions/{promotion_id}", tags=[TAG], summary="Gets a specific promotion", response_model=Promotion,
                responses=docs.answers({200: docs.ok(Promotion, "The promotion.")}),
                openapi_extra=docs.operation(docs.PARTNER, docs.path_id("promotion_id", "promotion")))
    async def promotion(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        promotion_id = path_id(request, "promotion_id")
        return JSONResponse(await found.promotions.one(env, promotion_id), headers=caller.headers())

    return routes
