"""The holder's sign-in: ``/login``, its HTML pages (sign-in or sign-up, consent) and the token
endpoints ``/access-token`` and ``/refresh-token``."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from cielo.promo import openapi as docs
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, given
from cielo.promo.holders import devices
from cielo.promo.oauth.schemas import AccessTokenRequest, RefreshTokenRequest, TokenPair
from cielo.promo.oauth.service import REQUEST_LIFETIME, LoginContext, LoginError
from cielo.promo.requests import FORM_EXPIRED, client_ip, json_object, url_of
from cielo.services import services
from cielo.web.http import JSONResponse
from cielo.web.pages import (
    PAGE_HEADERS,
    bind_browser,
    browser_bound,
    csrf_ok,
    error_page,
    release_browser,
    render,
    secure_request,
)
from cielo.web.routing import LeanRoute

TAG = "Authorization"
SIGN_IN = "sign-in"  # the purpose a sign-in's browser cookie is bound to (security/binding.py)
OTHER_BROWSER = ("This sign-in was started in another browser, and for your security it goes on only there. "
                 "Go back to the application and sign in again from this browser.")


def grant_type(body: dict, expected: str) -> None:
    value = given(body, "grant_type", required=True, where="body field")
    if value != expected:
        raise PromoError(400, f"The 'grant_type' must be '{expected}' here.")


_PAIR = {"model": TokenPair, "description": "A new token pair (never cached: `Cache-Control: no-store`).",
         "headers": {"Cache-Control": docs.header("no-store", {"type": "string"}), **docs.RATE_HEADERS}}
_LOGIN = [
    docs.parameter("client_id", "query", "The application's Client ID.", {"type": "string", "minLength": 1}, required=True),
    docs.parameter("redirect_url", "query", "Where the browser goes back with `code` (or `error`) and `state`: one of "
                   "the application's registered redirect URLs, exactly.", {"type": "string", "format": "uri", "minLength": 1},
                   required=True),
    docs.parameter("name", "query", "The holder's name.", {"type": "string", "minLength": 1, "maxLength": 100}, required=True),
    docs.parameter("cpf", "query", "The holder's CPF, with or without punctuation (check digits verified).",
                   {"type": "string", "pattern": docs.CPF_PATTERN}, required=True),
    docs.parameter("birthdate", "query", "The holder's birth date (ISO 8601; at least 10 years old).",
                   {"type": "string", "format": "date"}, required=True),
    docs.parameter("email", "query", "The holder's e-mail (also accepted as `e-mail`).",
                   {"type": "string", "format": "email", "maxLength": 100}, required=True),
    docs.parameter("state", "query", "Given back unchanged on the redirect (printable ASCII).",
                   {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[ -~]+$"}),
    docs.parameter("code_challenge", "query", "PKCE (RFC 7636): the S256 challenge of the verifier sent to /access-token.",
                   {"type": "string", "pattern": "^[A-Za-z0-9._~-]{43,128}$"}),
    docs.parameter("code_challenge_method", "query", "PKCE: only S256.", {"type": "string", "enum": ["S256"]}),
]


async def token_request(request: Request, env: Environment, expected_grant: str):
    """What both token endpoints check first, in order: the client's credentials and its rate
    limit (the holder profile's requests per minute), a JSON object body, and its grant_type."""
    found = services(request)
    caller = await found.access.token_client(request, env)
    body = await json_object(request, caller)
    grant_type(body, expected_grant)
    return found, caller, body


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)
    page = routes.api_route  # the HTML pages: routes like the others, outside the API's document

    @routes.get("/login", tags=[TAG], status_code=301, response_class=RedirectResponse,
                summary="Getting HTML from LOGIN page",
                responses=docs.answers({301: {"description": "To the sign-in page.", "headers": {
                    "Location": docs.header("The sign-in page.", {"type": "string"}, required=True)}},
                    400: docs.REDIRECT_REFUSED},
                    (400, 401, 422, 429, 500, 502)),
                openapi_extra=docs.operation(docs.NONE, *_LOGIN))
    async def login(request: Request) -> Response:
        auth_request, app = await services(request).oauth.start(env, request.query_params, client_ip(request))
        query = urlencode({"client_id": app.client_id, "redirect_url": auth_request.redirect_url,
                           "request": auth_request.public_id})
        response = RedirectResponse(url_of(request, env, "/oauth/login") + "?" + query, status_code=301)
        bind_browser(request, response, SIGN_IN, auth_request.public_id, path=url_of(request, env, "/oauth/"),
                     lifetime=REQUEST_LIFETIME)
        return response

    async def _context(request: Request, public_id) -> LoginContext:
        """The sign-in of a page's link, in the browser that began it (else an error page)."""
        ctx = await services(request).oauth.context(env, public_id)
        if not browser_bound(request, SIGN_IN, ctx.request.public_id):
            raise LoginError(OTHER_BROWSER, 403)
        return ctx

    async def _login_page(request: Request, ctx, *, error=None, status_code=200, entered=None) -> Response:
        digits = ctx.prefill["cpf"]
        return render(request, "promo/login.html", status_code=status_code, error=error, known=ctx.known_holder,
                      app_name=ctx.application.name, prefill=ctx.prefill, request_id=ctx.request.public_id,
                      entered=entered or {},
                      cpf_masked=f"***.{digits[3:6]}.***-{digits[9:]}", action=url_of(request, env, "/oauth/login"))

    @page("/oauth/login", methods=["GET"], include_in_schema=False)
    async def login_page(request: Request) -> Response:
        ctx = await _context(request, request.query_params.get("request"))
        return await _login_page(request, ctx)

    @page("/oauth/login", methods=["POST"], include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await request.form()
        oauth = services(request).oauth
        ctx = await _context(request, str(form.get("request", "")))
        if not csrf_ok(request, form):
            return await _login_page(request, ctx, error=FORM_EXPIRED, status_code=403)
        device = devices.sighting(request)
        entered = {"gender": str(form.get("gender", "")), "phone": str(form.get("phone", ""))}
        try:
            if ctx.known_holder:
                await oauth.sign_in(ctx, str(form.get("password", "")), client_ip(request), device=device)
            else:
                await oauth.sign_up(ctx, str(form.get("password", "")), str(form.get("password_confirm", "")),
                                    form.get("accept_terms") is not None, client_ip(request), device=device, **entered)
        except LoginError as exc:
            return await _login_page(request, ctx, error=str(exc), status_code=exc.status_code, entered=entered)
        consent = url_of(request, env, "/oauth/consent") + "?" + urlencode({"request": ctx.request.public_id})
        response = RedirectResponse(consent, status_code=303, headers=PAGE_HEADERS)
        devices.remember(response, device, path=url_of(request, env, "/oauth"), secure=secure_request(request))
        return response

    @page("/oauth/consent", methods=["GET"], include_in_schema=False)
    async def consent_page(request: Request) -> Response:
        ctx = await _context(request, request.query_params.get("request"))
        if ctx.request.holder_id is None:
            return error_page(400, "Sign in first.")
        return render(request, "promo/consent.html", app_name=ctx.application.name, request_id=ctx.request.public_id,
                      redirect_host=urlsplit(ctx.request.redirect_url).netloc or ctx.request.redirect_url,
                      action=url_of(request, env, "/oauth/consent"))

    @page("/oauth/consent", methods=["POST"], include_in_schema=False)
    async def consent_submit(request: Request) -> Response:
        form = await request.form()
        ctx = await _context(request, str(form.get("request", "")))
        if not csrf_ok(request, form):
            return error_page(403, FORM_EXPIRED)
        decision = form.get("decision")
        if decision not in ("allow", "deny"):
            return error_page(400, "Choose Allow or Deny.")
        target = await services(request).oauth.decide(ctx, decision == "allow")
        response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
        release_browser(request, response, ctx.request.public_id, path=url_of(request, env, "/oauth/"))
        return response

    @routes.post("/access-token", tags=[TAG], status_code=201, summary="Gets the ACCESS_TOKEN", response_model=TokenPair,
                 responses=docs.answers({201: _PAIR}, docs.BODY_ERRORS),
                 openapi_extra=docs.operation(docs.CLIENT, body=AccessTokenRequest,
                                              body_example={"grant_type": "authorization_code", "code": "…"}))
    async def access_token(request: Request) -> Response:
        found, caller, body = await token_request(request, env, "authorization_code")
        return JSONResponse(await found.oauth.exchange_code(caller.application, body), status_code=201,
                            headers=caller.headers())

    @routes.post("/refresh-token", tags=[TAG], status_code=201, summary="Updates the ACCESS_TOKEN from the refresh_token",
                 response_model=TokenPair, responses=docs.answers({201: _PAIR}, docs.BODY_ERRORS),
                 openapi_extra=docs.operation(docs.CLIENT, body=RefreshTokenRequest,
                                              body_example={"grant_type": "refresh_token", "code": "…"}))
    async def refresh_token(request: Request) -> Response:
        found, caller, body = await token_request(request, env, "refresh_token")
        return JSONResponse(await found.oauth.refresh(caller.application, body), status_code=201,
                            headers=caller.headers())

    return routes
