"""Routing: every route an APIRoute, found fast, behind the application's whole middleware stack.

Two extension points of the framework, and nothing around it:

- :class:`LeanRoute`, an ``APIRoute`` (``APIRouter(route_class=LeanRoute)``, FastAPI's documented
  way to customise how a route handles requests). An endpoint whose one parameter is the
  ``Request`` parses it itself and returns a ``Response``; for those the route calls the endpoint
  directly instead of solving dependencies and validating a body it has none of. Every other
  endpoint keeps FastAPI's own handler. Either way the route is an ``APIRoute``: the OpenAPI
  document describes it (parameters, bodies and responses are declared on the decorator), and
  every middleware added with ``app.add_middleware`` sees its requests.
- :class:`RouteIndex`, a route placed first in the application's routes that finds the route
  of a request by its path: the router asks each route in turn, so a route declared late was
  found tens of microseconds after one declared early. It answers exactly as the router would,
  or not at all. It is a route among the others: the middleware stack and the exception
  handlers are the same for every request.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def takes_only_the_request(endpoint: Callable[..., Any]) -> bool:
    """Whether ``endpoint(request)`` is its whole signature, the request annotated as one."""
    parameters = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    return (len(parameters) == 1 and parameters[0].annotation is Request
            and parameters[0].kind in (parameters[0].POSITIONAL_ONLY, parameters[0].POSITIONAL_OR_KEYWORD))


class LeanRoute(APIRoute):
    """An APIRoute whose endpoint, when it takes only the Request, is called as it is; a GET
    route answers HEAD too, as Starlette's own routes do (FastAPI's answer 405), without a HEAD
    operation in the OpenAPI document."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.PARTIAL and scope.get("method") == "HEAD" and "GET" in (self.methods or ()):
            return Match.FULL, child_scope
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD" and "GET" in (self.methods or ()):
            await self.app(scope, receive, send)
        else:
            await super().handle(scope, receive, send)

    def get_route_handler(self):
        if takes_only_the_request(self.endpoint) and not self.dependencies:
            return self.endpoint
        return super().get_route_handler()


def add_routes(app: FastAPI, routers: list[APIRouter]) -> None:
    """The routers' routes become the application's own, in order, with a :class:`RouteIndex`
    ahead of them.

    Why not ``include_router``: it wraps a router in one entry whose routes the router can only
    see when it hands a request over, so neither the index nor anything else walking
    ``app.routes`` could tell which route takes a request, and every request paid for the
    wrapping. A route declared on a router already carries the router's prefix, tags and
    dependencies, and ours are included with no more of them, so their routes are added
    exactly as they were declared (what ``include_router`` itself did before FastAPI
    0.1xx): the OpenAPI document, the exception handlers and every middleware see them the same.
    """
    for router in routers:
        app.router.routes.extend(router.routes)  # each route already carries its router's prefix and dependencies
    RouteIndex.install(app)


class RouteIndex(BaseRoute):
    """The application's routes, found by path instead of by asking each in turn.

    - A fixed path (no parameter) is one dict lookup of (path, method), for the pairs the
      router itself would give to that route: the first of the application's routes that fully
      matches it (``build`` asks them in order).
    - Any other path asks only the routes that could match it, in the application's order: a
      route's static prefix up to its first parameter (``/sandbox/promotions/v1/promotions/``
      for ``…/promotions/{promotion_id}``) must begin the path. Routes of any other kind, or
      whose parameter does not start a segment, are asked for every path.

    The first candidate that fully matches is the router's own choice; when none does (an
    unknown path, a method the path does not take, a redirect for a trailing slash) the index
    answers no match and the router scans its routes as usual. Rebuilt when the application's
    routes are added to.
    """

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._fixed: dict[tuple[str, str], APIRoute] = {}
        self._by_prefix: dict[str, list[tuple[int, BaseRoute]]] = {}
        self._everywhere: list[tuple[int, BaseRoute]] = []
        self._candidates: dict[tuple[str, ...], list[BaseRoute]] = {}
        self._built_for: int | None = None

    @classmethod
    def install(cls, app: FastAPI) -> RouteIndex:
        index = cls(app)
        app.router.routes.insert(0, index)
        return index

    def build(self) -> None:
        routes = [route for route in self._app.router.routes if route is not self]
        fixed: dict[tuple[str, str], APIRoute] = {}
        by_prefix: dict[str, list[tuple[int, BaseRoute]]] = {}
        everywhere: list[tuple[int, BaseRoute]] = []
        for order, route in enumerate(routes):
            path_format = getattr(route, "path_format", None)
            if not isinstance(route, Route) or path_format is None:
                everywhere.append((order, route))
                continue
            prefix = path_format.split("{", 1)[0]
            if "{" not in path_format:
                by_prefix.setdefault(path_format, []).append((order, route))
            elif prefix.endswith("/"):
                by_prefix.setdefault(prefix, []).append((order, route))
            else:
                everywhere.append((order, route))
            if isinstance(route, APIRoute) and not route.param_convertors:
                for method in route.methods or ():
                    probe = {"type": "http", "path": route.path, "root_path": "", "method": method, "headers": []}
                    if _first_full_match(routes, probe) is route:
                        fixed[(route.path, method)] = route
        self._fixed, self._by_prefix, self._everywhere = fixed, by_prefix, everywhere
        self._candidates = {}
        self._built_for = len(self._app.router.routes)

    def _candidates_for(self, path: str) -> list[BaseRoute]:
        keys = []
        at = path.find("/")
        while at != -1:
            if path[:at + 1] in self._by_prefix:
                keys.append(path[:at + 1])
            at = path.find("/", at + 1)
        if path in self._by_prefix:
            keys.append(path)
        found = self._candidates.get(tuple(keys))
        if found is None:
            ordered = sorted([*self._everywhere, *(entry for key in keys for entry in self._by_prefix[key])],
                             key=lambda entry: entry[0])
            found = self._candidates[tuple(keys)] = [route for _, route in ordered]
        return found

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope.get("root_path"):
            return Match.NONE, {}
        if self._built_for != len(self._app.router.routes):
            self.build()
        path = scope["path"]
        route = self._fixed.get((path, scope["method"]))
        if route is not None:
            return route.matches(scope)
        for candidate in self._candidates_for(path):
            match, child_scope = candidate.matches(scope)
            if match is Match.FULL:
                child_scope[_CHOSEN] = candidate
                return match, child_scope
        return Match.NONE, {}  # the router's own scan answers (a 405 and its Allow header, a 404)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.pop(_CHOSEN, None) or scope["route"]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any):
        raise NoMatchFound(name, path_params)  # the indexed routes answer for themselves


_CHOSEN = "cielo.route"


def _first_full_match(routes: list[BaseRoute], probe: Scope) -> BaseRoute | None:
    for route in routes:
        match, _ = route.matches(dict(probe))
        if match is Match.FULL:
            return route
    return None

