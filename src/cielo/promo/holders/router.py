"""``/me``: the signed-in holder's own data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.promo import openapi as docs
from cielo.promo.environments import Environment
from cielo.promo.holders.schemas import Holder
from cielo.services import services
from cielo.web.http import JSONResponse
from cielo.web.routing import LeanRoute

TAG = "Fidelity"


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)

    @routes.get("/me", tags=[TAG], summary="Returns the holder's data", response_model=Holder,
                responses=docs.answers({200: docs.ok(Holder, "The holder.")}), openapi_extra=docs.operation(docs.HOLDER))
    async def me(request: Request) -> Response:
        found = services(request)
        caller = await found.access.holder(request, env)
        return JSONResponse(await found.holders.me(caller.holder), headers=caller.headers())

    return routes
