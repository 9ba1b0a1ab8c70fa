"""Cards: ``/cards`` and the registration page it leads to, ``/me/cards`` and one card."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from cielo.promo import openapi as docs
from cielo.promo.cards.schemas import Card
from cielo.promo.cards.service import REQUEST_LIFETIME, kept_fields
from cielo.promo.environments import Environment
from cielo.promo.errors import given
from cielo.promo.oauth.service import LoginError
from cielo.promo.pagination import Page
from cielo.promo.requests import FORM_EXPIRED, client_ip, expand, path_id, url_of
from cielo.services import services
from cielo.web.http import JSONResponse
from cielo.web.pages import PAGE_HEADERS, bind_browser, browser_bound, csrf_ok, release_browser, render
from cielo.web.routing import LeanRoute

CARD = "card"  # the purpose a card registration's browser cookie is bound to (security/binding.py)
OTHER_BROWSER = ("This card registration was started in another browser, and for your security it goes on only "
                 "there. Go back to the application and add the card again from this browser.")


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)
    page = routes.api_route  # the HTML pages: routes like the others, outside the API's document

    @routes.get("/cards", tags=["Authorization"], status_code=301, response_class=RedirectResponse,
                summary="Getting the HTML from the card register page",
                responses=docs.answers({301: {"description": "To the card registration page.", "headers": {
                    "Location": docs.header("The card registration page.", {"type": "string"}, required=True)}},
                    400: docs.REDIRECT_REFUSED},
                    (400, 401, 403, 422, 429, 500, 502)),
                openapi_extra=docs.operation(
                    docs.NONE,
                    docs.parameter("client_id", "query", "The application's Client ID.", {"type": "string", "minLength": 1},
                                   required=True),
                    docs.parameter("access_token", "query", "The holder's access_token.", {"type": "string", "minLength": 1},
                                   required=True),
                    docs.parameter("redirect_url", "query", "Where the browser goes with `card_id` afterwards: one of the "
                                   "application's registered redirect URLs, exactly.",
                                   {"type": "string", "format": "uri", "minLength": 1}, required=True)))
    async def cards(request: Request) -> Response:
        found = services(request)
        caller = await found.access.holder_from_query(request, env)
        card_request = await found.cards.start(env, caller.holder, caller.application,
                                               given(request.query_params, "redirect_url", required=True),
                                               client_ip(request))
        query = urlencode({"client_id": caller.application.client_id, "redirect_url": card_request.redirect_url,
                           "request": card_request.public_id})
        response = RedirectResponse(url_of(request, env, "/oauth/cards") + "?" + query, status_code=301)
        bind_browser(request, response, CARD, card_request.public_id, path=url_of(request, env, "/oauth/"),
                     lifetime=REQUEST_LIFETIME)
        return response

    async def _context(request: Request, public_id):
        """The card registration of a page's link, in the browser that began it (else an error page)."""
        context = await services(request).cards.context(env, public_id)
        if not browser_bound(request, CARD, context[0].public_id):
            raise LoginError(OTHER_BROWSER, 403)
        return context

    async def _cards_page(request: Request, context, *, error=None, status_code=200, form=None) -> Response:
        card_request, app, partners = context
        return render(request, "promo/cards.html", status_code=status_code, error=error, app_name=app.name,
                      partners=partners, request_id=card_request.public_id, action=url_of(request, env, "/oauth/cards"),
                      kept=kept_fields(form))

    @page("/oauth/cards", methods=["GET"], include_in_schema=False)
    async def cards_page(request: Request) -> Response:
        return await _cards_page(request, await _context(request, request.query_params.get("request")))

    @page("/oauth/cards", methods=["POST"], include_in_schema=False)
    async def cards_submit(request: Request) -> Response:
        form = await request.form()
        context = await _context(request, str(form.get("request", "")))
        if not csrf_ok(request, form):
            return await _cards_page(request, context, error=FORM_EXPIRED, status_code=403, form=form)
        try:
            _, target = await services(request).cards.register(env, context[0], context[2], form)
        except LoginError as exc:
            return await _cards_page(request, context, error=str(exc), status_code=exc.status_code, form=form)
        response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
        release_browser(request, response, context[0].public_id, path=url_of(request, env, "/oauth/"))
        return response

    @routes.get("/me/cards", tags=["Fidelity"], summary="Returns the card holder's list", response_model=list[Card],
                responses=docs.answers({200: docs.ok(list[Card], "The holder's cards.", listed=True)}),
                openapi_extra=docs.operation(docs.HOLDER, docs.offset(True), docs.limit(True), docs.EXPAND))
    async def my_cards(request: Request) -> Response:
        found = services(request)
        caller = await found.access.holder(request, env)
        page = Page.parse(request.query_params, caller.max_page_size, required=True)
        items, total = await found.cards.list(caller.holder, page, expand(request))
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @routes.get("/me/cards/{card_id}", tags=["Fidelity"], summary="Gets data from a card", response_model=Card,
                responses=docs.answers({200: docs.ok(Card, "The card.")}),
                openapi_extra=docs.operation(docs.HOLDER, docs.path_id("card_id", "card"), docs.EXPAND))
    async def my_card(request: Request) -> Response:
        found = services(request)
        caller = await found.access.holder(request, env)
        body = await found.cards.one(caller.holder, path_id(request, "card_id"), expand(request))
        return JSONResponse(body, headers=caller.headers())

    return routes
