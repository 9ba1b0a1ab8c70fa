"""One request path: every route an APIRoute of the app, behind the app's whole middleware
stack, found by the route index exactly as the router would find it (cielo.web.routing)."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match

from cielo.web.routing import LeanRoute, RouteIndex, add_routes


def _scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "path": path, "method": method, "root_path": "", "headers": [], "query_string": b""}


def _concrete(path: str) -> str:
    """A request path for a route's path: each parameter given a value it accepts."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "sandbox" if m.group(1) == "env" else "7", path)


def _router_choice(app: FastAPI, scope: dict):
    """What the router's own scan picks, ignoring the index: the first full match, else the
    first partial one."""
    partial = None
    for route in app.router.routes:
        if isinstance(route, RouteIndex):
            continue
        match, _ = route.matches(dict(scope))
        if match is Match.FULL:
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial, Match.PARTIAL if partial is not None else Match.NONE


def _index(app: FastAPI) -> RouteIndex:
    index = app.router.routes[0]
    assert isinstance(index, RouteIndex)
    return index


def test_every_route_is_declared_once_as_an_api_route(app):
    routes = [route for route in app.router.routes if not isinstance(route, RouteIndex)]
    ours = [route for route in routes if route.path not in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")]
    assert all(isinstance(route, APIRoute) for route in ours)
    keys = [(route.path, method) for route in ours for method in route.methods]
    assert len(keys) == len(set(keys)), "a (path, method) declared twice"


def test_the_index_chooses_what_the_router_would_for_every_route_and_method(app):
    index = _index(app)
    paths = {_concrete(route.path) for route in app.router.routes if hasattr(route, "path")}
    paths |= {path + "/" for path in paths} | {path + "/extra" for path in paths} | {"/nowhere", "/"}
    checked = 0
    for path in sorted(paths):
        for method in ("GET", "HEAD", "POST", "PATCH", "DELETE", "PUT"):
            scope = _scope(path, method)
            expected, how = _router_choice(app, scope)
            match, child = index.matches(dict(scope))
            if how is Match.FULL:
                chosen = child.get("cielo.route") or child.get("route")
                assert match is Match.FULL and chosen is expected, (path, method)
                checked += 1
            else:
                assert match is Match.NONE, (path, method)  # the router's own scan answers 405 / 404
    assert checked > 80


def test_the_index_keeps_the_routers_order_where_an_earlier_route_shadows_a_later_one():
    async def ok(request: Request) -> Response:
        return PlainTextResponse(request.scope["route"].name)

    router = APIRouter(route_class=LeanRoute)
    router.add_api_route("/items/{name}", ok, methods=["GET"], name="any-item")
    router.add_api_route("/items/new", ok, methods=["GET", "POST"], name="new-item")  # GET goes to any-item
    router.add_api_route("/things/{thing_id:int}", ok, methods=["GET"], name="thing")
    app = FastAPI()
    add_routes(app, [router])
    with TestClient(app) as client:
        assert client.get("/items/new").text == "any-item"
        assert client.post("/items/new").text == "new-item"
        assert client.get("/things/3").text == "thing"
        assert client.get("/things/x").status_code == 404
        assert client.delete("/items/new").status_code == 405
    assert ("/items/new", "GET") not in _index(app)._fixed and ("/items/new", "POST") in _index(app)._fixed

    late = APIRouter(route_class=LeanRoute)
    late.add_api_route("/late", ok, methods=["GET"], name="late")
    app.router.routes.extend(late.routes)  # added after the first requests: the index is rebuilt
    with TestClient(app) as client:
        assert client.get("/late").text == "late"


def test_a_lean_route_calls_an_endpoint_of_the_request_alone_and_leaves_the_others_to_fastapi():
    async def lean(request: Request) -> Response:
        return PlainTextResponse("lean")

    async def typed(item_id: int) -> dict:
        return {"item_id": item_id}

    router = APIRouter(route_class=LeanRoute)
    router.add_api_route("/lean", lean, methods=["GET"])
    router.add_api_route("/typed/{item_id}", typed, methods=["GET"])
    handlers = {route.path: route.get_route_handler() for route in router.routes}
    assert handlers["/lean"] is lean
    assert handlers["/typed/{item_id}"] is not typed
    app = FastAPI()
    add_routes(app, [router])
    with TestClient(app) as client:
        assert client.get("/lean").text == "lean"
        assert client.get("/typed/3").json() == {"item_id": 3}
        assert client.get("/typed/x").status_code == 422  # FastAPI's own validation still runs


class Probe:
    """A middleware an operator might add: it sees every request and marks every answer."""

    def __init__(self, app, seen: list) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.seen.append((scope["method"], scope["path"]))

        async def marked(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-probe", b"seen")]
            await send(message)

        await self.app(scope, receive, marked)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_middleware_added_to_the_app_sees_every_route(settings):
    from cielo.app import create_app

    app = create_app(settings)
    seen: list = []
    app.add_middleware(Probe, seen=seen)
    calls = sorted({(method, _concrete(route.path)) for route in app.router.routes
                    if isinstance(route, APIRoute) for method in route.methods})
    assert len(calls) > 80
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path in calls:
            response = client.request(method, path, follow_redirects=False)
            assert response.headers.get("x-probe") == "seen", (method, path, response.status_code)
            assert response.status_code < 500, (method, path, response.status_code, response.text)
    assert set(calls) <= set(seen)
