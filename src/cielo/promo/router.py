"""Routes of the Promotions API, built once per environment (CONTRACT §2–§3).

Like the white-label API, the routes are served as plain Starlette routes and described
for /openapi.json through an APIRouter holding the same endpoint functions."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cielo.web.http import JSONResponse, json_body, query_of
from cielo.ids import MAX_ID
from cielo.web.pages import PAGE_HEADERS, csrf_ok, error_page, render
from cielo.promo import validation
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, missing
from cielo.promo.oauth.service import LoginError
from cielo.promo.pagination import Page
from cielo.promo.promotions.service import Search
from cielo.promo.subscriptions.service import queue_item
from cielo.promo.transactions.parsing import MAX_RANGE, ItemError, period_bound

FORM_EXPIRED = "The form has expired or did not come from this site; reload the page and try again."


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _json_body(request: Request) -> dict:
    body = await json_body(request, _body_error)
    if not isinstance(body, dict):
        raise PromoError(400, "The request body must be a JSON object.")
    return body


def _body_error(status_code: int, message: str) -> PromoError:
    return PromoError(status_code, message, code="MISSING_BODY") if status_code == 422 else PromoError(status_code, message)


def _grant_type(body: dict, expected: str) -> None:
    grant_type = body.get("grant_type")
    if grant_type in (None, ""):
        raise PromoError(422, "The 'grant_type' body field is mandatory.", code="MISSING_PARAMETER")
    if grant_type != expected:
        raise PromoError(400, f"The 'grant_type' must be '{expected}' here.")


def path_id(request: Request, name: str) -> int:
    """A positive integer id from the path: 400 when it is not one, 404 when it is too large
    to name anything (ids are 32-bit)."""
    raw = request.path_params[name]
    if not raw.isdigit() or int(raw) < 1:
        raise PromoError(400, f"The '{name}' must be a positive integer.")
    if len(raw) > 10 or int(raw) > MAX_ID:
        raise PromoError(404, f"Nothing has the {name} {raw}.")
    return int(raw)


def _expand(request: Request) -> bool:
    value = request.query_params.get("_expand")
    if value in (None, ""):
        return False
    if value != "partners":
        raise PromoError(400, "The '_expand' parameter accepts only 'partners'.")
    return True


def transaction_period(query) -> tuple:
    """[start, end) of /me/transactions from start_date and end_date (CONTRACT §3.2)."""
    bounds = {}
    for name in ("start_date", "end_date"):
        raw = query.get(name)
        if raw in (None, ""):
            raise missing(name)
        try:
            bounds[name] = period_bound(raw, name, end=name == "end_date")
        except ItemError as exc:
            raise PromoError(400, str(exc)) from None
    (start, start_bound), (end, end_bound) = bounds["start_date"], bounds["end_date"]
    if start > end:
        raise PromoError(400, "The 'start_date' must not be after the 'end_date'.")
    if end - start > MAX_RANGE:
        raise PromoError(400, "The range from 'start_date' to 'end_date' must not exceed 366 days.")
    return start_bound, end_bound


def build(env: Environment) -> tuple[APIRouter, list[Route]]:
    base = env.base_path
    tag_auth, tag_fidelity = "Authorization", "Fidelity"
    router = APIRouter(prefix=base)

    def page_url(request: Request, path: str) -> str:
        return request.scope.get("root_path", "") + base + path

    @router.get("/login", tags=[tag_auth], status_code=301, summary="Getting HTML from LOGIN page",
                responses={301: {"description": "Login screen URL redirection."}})
    async def login(request: Request) -> Response:
        services = request.app.state
        auth_request, app = await services.oauth.start(env, request.query_params)
        query = urlencode({"client_id": app.client_id, "redirect_url": auth_request.redirect_url,
                           "request": auth_request.public_id})
        return RedirectResponse(page_url(request, "/oauth/login") + "?" + query, status_code=301)

    async def _login_page(request: Request, ctx, *, error=None, status_code=200) -> Response:
        digits = ctx.prefill["cpf"]
        return render(request, "promo/login.html", status_code=status_code, error=error, known=ctx.known_holder,
                      app_name=ctx.application.name, prefill=ctx.prefill, request_id=ctx.request.public_id,
                      cpf_masked=f"***.{digits[3:6]}.***-{digits[9:]}", action=page_url(request, "/oauth/login"))

    async def login_page(request: Request) -> Response:
        ctx = await request.app.state.oauth.context(env, request.query_params.get("request"))
        return await _login_page(request, ctx)

    async def login_submit(request: Request) -> Response:
        form = await request.form()
        oauth = request.app.state.oauth
        ctx = await oauth.context(env, str(form.get("request", "")))
        if not csrf_ok(request, form):
            return await _login_page(request, ctx, error=FORM_EXPIRED, status_code=403)
        try:
            if ctx.known_holder:
                await oauth.sign_in(ctx, str(form.get("password", "")), _client_ip(request))
            else:
                await oauth.sign_up(ctx, str(form.get("password", "")), str(form.get("password_confirm", "")),
                                    form.get("accept_terms") is not None, _client_ip(request))
        except LoginError as exc:
            return await _login_page(request, ctx, error=str(exc), status_code=exc.status_code)
        return RedirectResponse(page_url(request, "/oauth/consent") + "?" + urlencode({"request": ctx.request.public_id}),
                                status_code=303, headers=PAGE_HEADERS)

    async def consent_page(request: Request) -> Response:
        ctx = await request.app.state.oauth.context(env, request.query_params.get("request"))
        if ctx.request.holder_id is None:
            return error_page(400, "Sign in first.")
        return render(request, "promo/consent.html", app_name=ctx.application.name, request_id=ctx.request.public_id,
                      redirect_host=urlsplit(ctx.request.redirect_url).netloc or ctx.request.redirect_url,
                      action=page_url(request, "/oauth/consent"))

    async def consent_submit(request: Request) -> Response:
        form = await request.form()
        oauth = request.app.state.oauth
        ctx = await oauth.context(env, str(form.get("request", "")))
        if not csrf_ok(request, form):
            return error_page(403, FORM_EXPIRED)
        decision = form.get("decision")
        if decision not in ("allow", "deny"):
            return error_page(400, "Choose Allow or Deny.")
        target = await oauth.decide(ctx, decision == "allow")
        return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)

    @router.post("/access-token", tags=[tag_auth], status_code=201, summary="Gets the ACCESS_TOKEN")
    async def access_token(request: Request) -> Response:
        services = request.app.state
        app = await services.access.basic_client(request, env)
        body = await _json_body(request)
        _grant_type(body, "authorization_code")
        pair = await services.oauth.exchange_code(app, body)
        return JSONResponse(pair, status_code=201, headers={"Cache-Control": "no-store"})

    @router.post("/refresh-token", tags=[tag_auth], status_code=201,
                 summary="Updates the ACCESS_TOKEN from the refresh_token")
    async def refresh_token(request: Request) -> Response:
        services = request.app.state
        app = await services.access.basic_client(request, env)
        body = await _json_body(request)
        _grant_type(body, "refresh_token")
        pair = await services.oauth.refresh(app, body)
        return JSONResponse(pair, status_code=201, headers={"Cache-Control": "no-store"})

    @router.get("/me", tags=[tag_fidelity], summary="Returns the holder's data")
    async def me(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.holder(request, env)
        return JSONResponse(await services.holders.me(caller.holder_id), headers=caller.headers())

    @router.get("/cards", tags=[tag_auth], status_code=301, summary="Getting the HTML from the card register page",
                responses={301: {"description": "Card registration screen URL redirection."}})
    async def cards(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.holder_from_query(request, env)
        card_request = await services.cards.start(env, caller.holder_id, caller.application,
                                                  request.query_params.get("redirect_url"))
        query = urlencode({"client_id": caller.application.client_id, "redirect_url": card_request.redirect_url,
                           "request": card_request.public_id})
        return RedirectResponse(page_url(request, "/oauth/cards") + "?" + query, status_code=301)

    async def _cards_page(request: Request, context, *, error=None, status_code=200) -> Response:
        card_request, app, partners = context
        return render(request, "promo/cards.html", status_code=status_code, error=error, app_name=app.name,
                      partners=partners, request_id=card_request.public_id, action=page_url(request, "/oauth/cards"))

    async def cards_page(request: Request) -> Response:
        context = await request.app.state.cards.context(env, request.query_params.get("request"))
        return await _cards_page(request, context)

    async def cards_submit(request: Request) -> Response:
        form = await request.form()
        service = request.app.state.cards
        context = await service.context(env, str(form.get("request", "")))
        if not csrf_ok(request, form):
            return await _cards_page(request, context, error=FORM_EXPIRED, status_code=403)
        try:
            _, target = await service.register(env, context[0], context[2], form)
        except LoginError as exc:
            return await _cards_page(request, context, error=str(exc), status_code=exc.status_code)
        return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)

    @router.get("/me/cards", tags=[tag_fidelity], summary="Returns the card holder's list")
    async def my_cards(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.holder(request, env)
        page = Page.parse(request.query_params, caller.max_page_size, required=True)
        items, total = await services.cards.list(caller.holder_id, page, _expand(request))
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @router.get("/me/cards/{card_id}", tags=[tag_fidelity], summary="Gets data from a card")
    async def my_card(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.holder(request, env)
        body = await services.cards.one(caller.holder_id, path_id(request, "card_id"), _expand(request))
        return JSONResponse(body, headers=caller.headers())

    @router.get("/me/transactions", tags=[tag_fidelity], summary="Returns the list of positivated transaction from a holder")
    async def my_transactions(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.holder(request, env)
        query = query_of(request)
        page = Page.parse(query, caller.max_page_size, required=True)
        start, end = transaction_period(query)
        items, total = await services.transactions.for_holder(caller.holder_id, page, start, end)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @router.get("/commercial-establishments", tags=["Commercial establishments"],
                summary="Returns the list of commercial establishments")
    async def establishments(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        query = query_of(request)
        cnpj = validation.cnpj(query["cnpj"]) if query.get("cnpj") else None
        cpf = validation.cpf(query["cpf"]) if query.get("cpf") else None
        page = Page.parse(query, caller.max_page_size, required=False)
        items, total = await services.establishments.list_for(caller.application, env, page, cnpj=cnpj, cpf=cpf)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @router.get("/promotions", tags=["Promotions"], summary="Gets a list of promotions")
    async def promotions(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        query = query_of(request)
        search = Search.parse(query)
        page = Page.parse(query, caller.max_page_size, required=True)
        body, total = await services.promotions.search_json(env, search, page)
        return Response(body, media_type="application/json", headers={**caller.headers(), **page.headers(request, total)})

    @router.get("/promotions/{promotion_id}", tags=["Promotions"], summary="Gets a specific promotion")
    async def promotion(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        promotion_id = path_id(request, "promotion_id")
        return JSONResponse(await services.promotions.one(env, promotion_id), headers=caller.headers())

    def _id(request: Request, name: str) -> int:
        return path_id(request, name)

    tag_ce = "Commercial establishments"

    @router.post("/commercial-establishments/{commercial_establishment_id}/subscriptions", tags=[tag_ce],
                 status_code=202, summary="Sends a subscription request to a promotion for a Commercial Establishment")
    async def subscribe(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        establishment_id = _id(request, "commercial_establishment_id")
        body = await _json_body(request)
        row = await services.subscriptions.request(caller.application, env, establishment_id, body)
        location = request.scope.get("root_path", "") + f"{base}/subscriptions/{row.id}/queue"
        return JSONResponse(queue_item(row), status_code=202, headers={**caller.headers(), "Location": location})

    @router.get("/commercial-establishments/{commercial_establishment_id}/subscriptions", tags=[tag_ce],
                summary="Returns the list of processed subscriptions of a Commercial Establishment")
    async def subscriptions(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        establishment_id = _id(request, "commercial_establishment_id")
        page = Page.parse(request.query_params, caller.max_page_size, required=False)
        items, total = await services.subscriptions.processed(caller.application, env, establishment_id, page)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @router.get("/commercial-establishments/{commercial_establishment_id}/subscriptions/{subscription_id}",
                tags=[tag_ce], summary="Returns the Commercial Establishment subscription to a promotion")
    async def subscription(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        body = await services.subscriptions.processed_one(
            caller.application, env, _id(request, "commercial_establishment_id"), _id(request, "subscription_id"))
        return JSONResponse(body, headers=caller.headers())

    @router.get("/subscriptions/queue", tags=[tag_ce], summary="Gets a list of non processed subscriptions")
    async def queue(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        page = Page.parse(request.query_params, caller.max_page_size, required=False)
        items, total = await services.subscriptions.queued(caller.application, page)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    @router.get("/subscriptions/{subscription_id}/queue", tags=[tag_ce],
                summary="Gets the status of non processed subscriptions")
    async def queue_entry(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        row = await services.subscriptions.queue_entry(caller.application, _id(request, "subscription_id"))
        if row.processed_at is None:
            return JSONResponse(queue_item(row), headers=caller.headers())
        location = (request.scope.get("root_path", "")
                    + f"{base}/commercial-establishments/{row.establishment_id}/subscriptions/{row.id}")
        return Response(status_code=303, headers={**caller.headers(), "Location": location})

    @router.patch("/subscriptions/{subscription_id}", tags=[tag_ce], status_code=204,
                  summary="Updates the status of a subscription")
    async def requeue(request: Request) -> Response:
        services = request.app.state
        caller = await services.access.partner(request, env)
        request_id = _id(request, "subscription_id")
        body = await _json_body(request)
        await services.subscriptions.requeue(caller.application, env, request_id, body)
        return Response(status_code=204, headers=caller.headers())

    routes = [
        Route(route.path, route.endpoint, methods=sorted(route.methods or ()), name=f"{env.value}:{route.name}")
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    routes += [
        Route(base + "/oauth/login", login_page, methods=["GET"]),
        Route(base + "/oauth/login", login_submit, methods=["POST"]),
        Route(base + "/oauth/consent", consent_page, methods=["GET"]),
        Route(base + "/oauth/consent", consent_submit, methods=["POST"]),
        Route(base + "/oauth/cards", cards_page, methods=["GET"]),
        Route(base + "/oauth/cards", cards_submit, methods=["POST"]),
    ]
    return router, routes
