"""What every back-office route shares: a body must be JSON (API.md §2, §4)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from tests.support.db import make_token

NOT_JSON = "The request body must be JSON (Content-Type: application/json)."
PARTNER = b'{"name": "Livelo", "description": "Points", "term": "https://example.com/terms", "associationType": "AUTOMATIC"}'


def _body_routes(app) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/admin/v1"):
            path = re.sub(r"\{env\}", "sandbox", route.path)
            path = re.sub(r"\{[^}]+\}", "1", path)
            routes += [(method, path) for method in sorted(route.methods & {"POST", "PUT", "PATCH"})]
    return routes


def test_a_body_not_sent_as_json_is_refused_415_on_every_back_office_route(app, client, settings):
    admin = {"Authorization": f"Bearer {make_token(settings, 'admin')[1]}"}
    routes = _body_routes(app)
    assert len(routes) >= 10, routes
    for method, path in routes:
        # curl -d without -H 'Content-Type: application/json' sends a form's type
        for content_type in ("application/x-www-form-urlencoded", "text/plain"):
            answer = client.request(method, path, content=PARTNER, headers={**admin, "Content-Type": content_type})
            assert (answer.status_code, answer.json()) == (415, {"detail": NOT_JSON}), (method, path, answer.text)
        # the token is checked first
        anonymous = client.request(method, path, content=PARTNER, headers={"Content-Type": "text/plain"})
        assert anonymous.status_code == 401, (method, path)


def test_a_json_body_with_or_without_its_content_type_is_read(client, settings):
    admin = {"Authorization": f"Bearer {make_token(settings, 'admin')[1]}"}
    for headers in ({"Content-Type": "application/json"}, {"Content-Type": "application/json; charset=utf-8"}, {}):
        created = client.post("/admin/v1/sandbox/partners", content=PARTNER, headers={**admin, **headers})
        assert created.status_code == 201, (headers, created.text)
    assert client.get("/admin/v1/sandbox/partners", headers={**admin, "Content-Type": "text/plain"}).status_code == 200
