"""create_app(): the one FastAPI application serving every API of the project."""

from __future__ import annotations

import asyncio
import gc
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

import cielo
from cielo.admin.common import BackOfficeError, document_back_office
from cielo.auth.service import Authenticator
from cielo.cache import CacheRegistry
from cielo.config import Settings, get_settings
from cielo.db import Database
from cielo.logs import AccessLog
from cielo.promo import errors as promo_errors
from cielo.promo import expiry
from cielo.promo import openapi as promo_docs
from cielo.promo.access import Access
from cielo.promo.cards.service import CardService
from cielo.promo.developer.admin_router import router as admin_applications_router
from cielo.promo.developer.router import PREFIX as DEVELOPER_PREFIX
from cielo.promo.developer.router import install_handlers as install_developer_handlers
from cielo.promo.developer.router import router as developer_router
from cielo.promo.developer.service import ApplicationService, DeveloperService
from cielo.promo.environments import Environment
from cielo.promo.establishments.admin_router import router as admin_establishments_router
from cielo.promo.establishments.service import EstablishmentService
from cielo.promo.holders.service import HolderService
from cielo.promo.oauth.service import FlowStarts, LoginError, OAuthService, RedirectMismatch
from cielo.promo.partners.admin_router import router as admin_partners_router
from cielo.promo.partners.service import PartnerService
from cielo.promo.promotions.admin_router import router as admin_promotions_router
from cielo.promo.promotions.index import ChangeLog
from cielo.promo.promotions.service import PromotionService
from cielo.promo.router import routers as promo_routers
from cielo.promo.sandbox.router import router as sandbox_router
from cielo.promo.subscriptions.admin_router import router as admin_subscriptions_router
from cielo.promo.subscriptions.service import SubscriptionService, run_consumer
from cielo.promo.transactions.admin_router import router as admin_transactions_router
from cielo.promo.transactions.service import IngestError, TransactionService
from cielo.ratelimit import RateLimiter
from cielo.security.binding import FlowBinding
from cielo.security.csrf import Csrf
from cielo.security.secrets import secret_box_from_settings
from cielo.security.signing import signing_keys_from_settings
from cielo.services import Services
from cielo.web import apidocs, health, runtime
from cielo.web.http import (
    STATUS_SENTENCES,
    JSONResponse,
    error_style_for,
    register_error_style,
)
from cielo.web.middleware import RequestContextMiddleware
from cielo.web.openapi import finish_document
from cielo.web.pages import error_page, prefers_html
from cielo.web.private import PrivateAnswers
from cielo.web.routing import add_routes
from cielo.whitelabel import errors as wl_errors
from cielo.whitelabel.router import PREFIX as WHITELABEL_PREFIX
from cielo.whitelabel.router import SECURITY_SCHEMES as WHITELABEL_SECURITY
from cielo.whitelabel.router import router as whitelabel_router
from cielo.whitelabel.service import WhiteLabelService


def _allowed_methods(request: Request) -> str:
    """Every method some route fully matches on this path.

    Starlette's 405 names only the first partially matching route's methods, which is wrong
    when one path has a route per method; asking each route about each method is exact and
    uses only the public ``matches`` contract (FastAPI wraps included routers).
    """
    allowed = set()
    for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.add(method)
    return ", ".join(sorted(allowed))


def _install_error_handlers(app: FastAPI) -> None:
    register_error_style(WHITELABEL_PREFIX, wl_errors.error_response)
    register_error_style(DEVELOPER_PREFIX, error_page)
    install_developer_handlers(app)
    for env in Environment:
        register_error_style(env.base_path + "/oauth/", error_page)
        register_error_style(env.base_path, promo_errors.error_response)

    @app.exception_handler(LoginError)
    async def _page_error(_request: Request, exc: LoginError):
        # A login, consent or card page that cannot be shown (dead or used link): an HTML
        # page. Form problems are caught by the pages themselves and shown on the form.
        return error_page(exc.status_code, str(exc))

    @app.exception_handler(RedirectMismatch)
    async def _redirect_mismatch(request: Request, exc: RedirectMismatch):
        # /login and /cards (API.md §3.1): a browser is shown a page saying what to do about it
        if prefers_html(request):
            return error_page(exc.status_code, exc.for_a_person())
        return promo_errors.promo_error_response(exc)

    @app.exception_handler(promo_errors.PromoError)
    async def _promo_error(_request: Request, exc: promo_errors.PromoError):
        return promo_errors.promo_error_response(exc)

    @app.exception_handler(IngestError)
    async def _ingest_error(_request: Request, exc: IngestError):
        body = {"detail": exc.detail, **({"errors": exc.errors} if exc.errors else {})}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(wl_errors.WhiteLabelError)
    async def _whitelabel_error(_request: Request, exc: wl_errors.WhiteLabelError):
        return wl_errors.error_response(exc.status_code, exc.message)

    @app.exception_handler(wl_errors.WhiteLabelUnauthorized)
    async def _whitelabel_unauthorized(_request: Request, _exc: Exception):
        return wl_errors.unauthorized_response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        template = STATUS_SENTENCES.get(exc.status_code)
        # Starlette's own errors (no route, no such method) carry the bare status phrase: they get
        # our sentence; an error raised with a sentence of its own (a back-office 404 naming what
        # is missing) keeps it. Only our own templates are formatted: a detail may quote the
        # caller's input, braces and all.
        if template and exc.detail == HTTPStatus(exc.status_code).phrase:
            sentence = template.format(method=request.method, limit="")
        else:
            sentence = str(exc.detail)
        response = error_style_for(request.url.path)(exc.status_code, sentence)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = _allowed_methods(request)
        return response

    @app.exception_handler(BackOfficeError)
    async def _back_office_error(request: Request, exc: BackOfficeError):
        # answered exactly as the HTTPException of the same status and detail
        return await _http_error(request, StarletteHTTPException(exc.status_code, exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        sentence = f"The '{where}' value is not valid: {first.get('msg', 'invalid')}."
        return error_style_for(request.url.path)(400, sentence)


def _private_answers() -> PrivateAnswers:
    """The answers that carry personal data, secrets or tokens: never stored by a cache; the
    sign-in and card redirects and the pages tell no referrer either (API.md §2, §3.1)."""
    private = PrivateAnswers()
    private.add(WHITELABEL_PREFIX, prefix=True)  # every answer carries an api_secret
    private.add(DEVELOPER_PREFIX, prefix=True, no_referrer=True)
    for env in Environment:
        base = env.base_path
        for path in ("/me", "/access-token", "/refresh-token"):
            private.add(base + path)
        private.add(base + "/me/", prefix=True)
        for path in ("/login", "/cards"):  # /cards carries the holder's access_token in its address
            private.add(base + path, no_referrer=True)
        private.add(base + "/oauth/", prefix=True, no_referrer=True)
    return private


TAGS = [
    {"name": "White-label accounts", "description": "cielo24 Canvas Studio white-label accounts: the customers integrated "
     "with Canvas, behind a bearer token of the whitelabel scope. Errors are `{\"error\": sentence}` (and "
     "`{\"detail\": …}` for a refused token)."},
    {"name": "Authorization", "description": "Cielo Promo: a card holder signs in through the service's pages "
     "(`/login`, OAuth 2.0 authorization code with PKCE), the application exchanges the code at `/access-token` "
     "and rotates the pair at `/refresh-token`; `/cards` leads the holder to the card registration page."},
    {"name": "Fidelity", "description": "Cielo Promo, with the holder's access_token: the holder (`/me`), their cards "
     "and their purchases at Cielo Promo establishments."},
    {"name": "Commercial establishments", "description": "Cielo Promo, with the application's Access-Token: the "
     "establishments it may act for, and their subscriptions to promotions through a queue (202, then 200 while "
     "queued, 303 once processed)."},
    {"name": "Promotions", "description": "Cielo Promo, with the application's Access-Token: promotions near a point, "
     "and one promotion."},
    {"name": "Back office", "description": "The service's own administration API, behind a bearer token of the admin "
     "scope: partners, applications, establishments, promotions and transactions of each environment."},
    {"name": "Health", "description": "Liveness and readiness probes."},
]


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime.tune()
    settings = settings or get_settings()
    db = Database(settings.resolved_database_url, pool_size=settings.db_pool_size,
                  command_timeout=settings.db_command_timeout)
    caches = CacheRegistry(db.watcher, enabled=settings.cache)
    box = secret_box_from_settings(settings)

    access_log = AccessLog() if settings.access_log else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = asyncio.Event()
        consumer = (asyncio.get_running_loop().create_task(run_consumer(app.state.services.subscriptions, stop))
                    if settings.queue_consumer else None)
        index = app.state.services.promotions.index
        warming = asyncio.get_running_loop().create_task(index.warm()) if index is not None else None
        pruning = asyncio.get_running_loop().create_task(ChangeLog(db).keep_pruned(stop))
        expiring = asyncio.get_running_loop().create_task(expiry.keep_pruned(db, stop))
        # Everything made at start-up (modules, the app, SQLAlchemy's mappers) lives as long as
        # the process: out of the collector's sight, a full collection only walks what requests
        # made since (measured on /promotions: p99 at 4 connections, see docs/performance-history.md).
        gc.collect()
        gc.freeze()
        yield
        stop.set()
        if consumer is not None:
            await consumer
        if warming is not None:
            await warming
        await pruning
        await expiring
        if access_log is not None:
            access_log.flush()
        await db.dispose()
        await limiter.aclose()

    app = FastAPI(
        title="cielo",
        version=cielo.__version__,
        description="cielo24 Canvas Studio white-label accounts and the Cielo Promo Promotions API.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from web/apidocs.py, with their assets served here
        redoc_url=None,
        # Off unless asked for: with it on, FastAPI looks up the global OpenTelemetry providers on
        # every request, a cost the benchmarks see on the fastest routes (docs/PERFORMANCE.md).
        telemetry={"tracing": settings.telemetry, "metrics": settings.telemetry, "logs": settings.telemetry},
    )
    signing = signing_keys_from_settings(settings)
    limiter = RateLimiter(settings.redis_url, timeout=settings.redis_timeout)
    access = Access(db, limiter, caches)
    starts = FlowStarts(limiter, settings.flow_starts_per_minute)
    cards = CardService(db, signing, caches, starts)
    app.state.services = Services(
        settings=settings, db=db, redis=limiter.redis, caches=caches, secret_box=box, signing=signing, csrf=Csrf(signing),
        binding=FlowBinding(signing), limiter=limiter, authenticator=Authenticator(db, caches),
        whitelabel=WhiteLabelService(db, box, caches),
        developers=DeveloperService(db, limiter, box), applications=ApplicationService(db), access=access,
        oauth=OAuthService(db, access, box, signing, limiter, starts), holders=HolderService(db, box, caches),
        cards=cards,
        partners=PartnerService(db), establishments=EstablishmentService(db, caches),
        promotions=PromotionService(db, caches, in_memory=settings.search_index),
        subscriptions=SubscriptionService(db, caches, max_attempts=settings.queue_max_attempts,
                                          retry_seconds=settings.queue_retry_seconds),
        transactions=TransactionService(db, cards, caches),
    )

    _install_error_handlers(app)
    promo = [router for env in Environment for router in promo_routers(env)]
    routers = [health.router, apidocs.router, whitelabel_router, *promo, sandbox_router, developer_router,
               # the back office (/admin/v1), each domain's routes, in this order
               admin_partners_router, admin_applications_router, admin_establishments_router, admin_promotions_router,
               admin_subscriptions_router, admin_transactions_router]
    add_routes(app, routers)
    finish_document(app, security_schemes={**promo_docs.SECURITY_SCHEMES, **WHITELABEL_SECURITY}, tags=TAGS,
                    finishers=(document_back_office,))
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, access_log=access_log,
                       private=_private_answers())
    return app
