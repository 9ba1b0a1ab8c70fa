"""``/commercial-establishments``: the establishments an application may act for."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.promo import openapi as docs
from cielo.promo import validation
from cielo.promo.environments import Environment
from cielo.promo.errors import given
from cielo.promo.establishments.schemas import CommercialEstablishment
from cielo.promo.pagination import Page
from cielo.services import services
from cielo.web.http import JSONResponse, query_of
from cielo.web.routing import LeanRoute

TAG = "Commercial establishments"


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)

    @routes.get("/commercial-establishments", tags=[TAG], summary="Returns the list of commercial establishments",
                response_model=list[CommercialEstablishment],
                responses=docs.answers({200: docs.ok(list[CommercialEstablishment], "The establishments this application "
                                                     "may act for: every match unless paged.", listed=True),
                                        413: docs.UNPAGED_TOO_LARGE}),
                openapi_extra=docs.operation(
                    docs.PARTNER,
                    docs.parameter("cnpj", "query", "The owner's CNPJ, with or without punctuation.",
                                   {"type": "string", "pattern": docs.CNPJ_PATTERN}),
                    docs.parameter("cpf", "query", "The owner's CPF, with or without punctuation.",
                                   {"type": "string", "pattern": docs.CPF_PATTERN}),
                    docs.offset(False), docs.limit(False)))
    async def establishments(request: Request) -> Response:
        found = services(request)
        caller = await found.access.partner(request, env)
        query = query_of(request)
        cnpj, cpf = given(query, "cnpj", required=False), given(query, "cpf", required=False)
        cnpj = validation.cnpj(cnpj) if cnpj is not None else None
        cpf = validation.cpf(cpf) if cpf is not None else None
        page = Page.parse(query, caller.max_page_size, required=False)
        items, total = await found.establishments.list_for(caller.application, env, page, cnpj=cnpj, cpf=cpf)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    return routes
