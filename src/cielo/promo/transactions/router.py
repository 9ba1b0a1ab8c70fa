"""``/me/transactions``: the holder's purchases at Cielo Promo establishments."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cielo.promo import openapi as docs
from cielo.promo.environments import Environment
from cielo.promo.errors import PromoError, given
from cielo.promo.pagination import Page
from cielo.promo.transactions.parsing import MAX_RANGE, ItemError, period_bound
from cielo.promo.transactions.schemas import Transaction
from cielo.services import services
from cielo.web.http import JSONResponse, query_of
from cielo.web.routing import LeanRoute


def transaction_period(query) -> tuple:
    """[start, end) of /me/transactions from start_date and end_date: ISO dates or date-times,
    start not after end, at most 366 days apart."""
    bounds = {}
    for name in ("start_date", "end_date"):
        raw = given(query, name, required=True)
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


_PERIOD = [docs.parameter(name, "query", f"The {which} of the period (an ISO 8601 date or date-time; at most 366 days "
                          "from start to end).", {"type": "string", "minLength": 10}, required=True, example=example)
           for name, which, example in (("start_date", "start", "2026-11-01"), ("end_date", "end", "2026-11-30"))]


def router(env: Environment) -> APIRouter:
    routes = APIRouter(prefix=env.base_path, route_class=LeanRoute)

    @routes.get("/me/transactions", tags=["Fidelity"], summary="Returns the list of positivated transaction from a holder",
                response_model=list[Transaction],
                responses=docs.answers({200: docs.ok(list[Transaction], "The purchases, newest first.", listed=True)}),
                openapi_extra=docs.operation(docs.HOLDER, docs.offset(True), docs.limit(True), *_PERIOD))
    async def my_transactions(request: Request) -> Response:
        found = services(request)
        caller = await found.access.holder(request, env)
        query = query_of(request)
        page = Page.parse(query, caller.max_page_size, required=True)
        start, end = transaction_period(query)
        items, total = await found.transactions.for_holder(caller.holder, page, start, end)
        return JSONResponse(items, headers={**caller.headers(), **page.headers(request, total)})

    return routes
