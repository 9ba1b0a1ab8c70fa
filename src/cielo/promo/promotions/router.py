"""``/promotions``: promotions near a point, and one promotion."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.promo.environments import Environment
from cielo.promo.pagination import Page
from cielo.promo.promotions.service import Search
from cielo.promo.requests import path_id
from cielo.services import services
from cielo.web.http import JSONResponse, query_of
from cielo.web.routing import LeanRoute

TAG = "Promotions"


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)

    @routes.get("/promotions", tags=[TAG], summary="Gets a list of promotions")
    async def promotions(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        query = query_of(request)
        search = Search.parse(query)
        page = Page.parse(query, caller.max_page_size, required=True)
        body, total = await found.promotions.search_json(env, search, page)
        return Response(body, media_type="application/json", headers={**caller.headers(), **page.headers(request, total)})

    @routes.get("/promotions/{promotion_id}", tags=[TAG], summary="Gets a specific promotion")
    async def promotion(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        promotion_id = path_id(request, "promotion_id")
        return JSONResponse(await found.promotions.one(env, promotion_id), headers=caller.headers())

    return routes
