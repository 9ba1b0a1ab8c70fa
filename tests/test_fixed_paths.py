"""middleware.FixedPathRoutes: fixed paths found by one lookup, and only where the router
itself would have chosen the same route."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cielo.web.middleware import FixedPathRoutes


async def _ok(request):
    return PlainTextResponse("ok")


def _scope(path: str, method: str = "GET", root_path: str = "") -> dict:
    return {"type": "http", "path": path, "method": method, "root_path": root_path, "headers": []}


def test_only_routes_no_earlier_route_would_take():
    shadow = Route("/items/{name}", _ok, methods=["GET"])
    items_new = Route("/items/new", _ok, methods=["GET"])  # the router gives it to /items/{name}
    page_get = Route("/page", _ok, methods=["GET"])
    page_post = Route("/page", _ok, methods=["POST"])
    with_param = Route("/things/{id:int}", _ok, methods=["GET"])
    not_plain = Route("/other", _ok, methods=["GET"])
    routes = [shadow, items_new, page_get, page_post, with_param, not_plain]
    table = FixedPathRoutes.build(routes, [items_new, page_get, page_post, with_param], lambda app: app)

    assert table.find(_scope("/items/new")) is None
    assert table.find(_scope("/page"))[0] is page_get
    assert table.find(_scope("/page", "HEAD"))[0] is page_get
    assert table.find(_scope("/page", "POST"))[0] is page_post
    assert table.find(_scope("/page", "DELETE")) is None  # the router answers its 405
    assert table.find(_scope("/things/1")) is None
    assert table.find(_scope("/other")) is None
    assert table.find(_scope("/page", root_path="/mounted")) is None


def test_the_promotions_search_is_a_fixed_path_and_other_methods_fall_through(client):
    fixed = client.app.fixed_paths
    assert fixed.find(_scope("/sandbox/promotions/v1/promotions")) is not None
    assert fixed.find(_scope("/sandbox/promotions/v1/promotions/7")) is None
    response = client.post("/sandbox/promotions/v1/promotions")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert "x-request-id" in response.headers
    answered = client.get("/sandbox/promotions/v1/promotions")  # no Client-Id: the Promo API's own error
    assert answered.status_code == 401 and answered.json() == "The 'Client-Id' header is missing." and "x-request-id" in answered.headers
