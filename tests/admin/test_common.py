"""What every back-office route shares: a body must be JSON, and a value present but invalid,
empty included, is a 400 (API.md §2, §4)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from tests.support.db import db_sql, make_token

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


# ---- present but invalid: a 400, empty strings included (API.md §2, §4) --------------------

PARTNER_BODY = {"name": "Livelo", "description": "Points", "term": "https://example.com/terms",
                "associationType": "AUTOMATIC"}
ESTABLISHMENT_BODY = {"fictitiousName": "Padaria", "businessActivityId": 5812, "cnpj": "11.222.333/0001-81",
                      "latitude": -23.56, "longitude": -46.65}
PROMOTION = {"commercialEstablishmentId": 1, "title": "Café", "description": "Em dobro", "campaignType": "G",
             "startDate": "2026-01-01", "endDate": "2026-12-31", "active": True, "premium": "Um café",
             "rules": {}, "campaignModel": "Cashback", "transactionDays": "Seg a sex", "validityRedemption": "2026-12-31",
             "shareable": False}
TRANSACTION = {"cardId": 1, "commercialEstablishmentId": 1, "amount": "20.00", "occurredAt": "2026-03-01T12:00:00-03:00",
               "productPrimary": {"id": 1, "description": "Crédito"}, "productSecondary": {"id": 2, "description": "Débito"},
               "externalId": "pos-1"}
ADDRESS = {"street": "Av. Paulista", "number": "1000", "complement": "Andar 2", "district": "Bela Vista",
           "city": "São Paulo", "state": "SP", "zipCode": "01310-100"}
# (method, documented path, path called, a valid body or None for a query, the fields: a name, or
# a dotted one inside an object; the transaction's card as cardNumber is its own case)
OPERATIONS = [
    ("POST", "/partners", "/partners", PARTNER_BODY, ["name", "term", "associationType", "active"]),
    ("PATCH", "/partners/{partner_id}", "/partners/1", PARTNER_BODY, ["name", "term", "associationType", "active"]),
    ("PATCH", "/applications/{application_id}", "/applications/1", {"partnerId": 1}, ["partnerId"]),
    ("POST", "/commercial-establishments", "/commercial-establishments", {**ESTABLISHMENT_BODY, "address": ADDRESS},
     ["fictitiousName", "businessActivityId", "cnpj", "latitude", "longitude", "address", "active",
      *(f"address.{name}" for name in ADDRESS)]),
    ("POST", "/commercial-establishments", "/commercial-establishments",
     {**{k: v for k, v in ESTABLISHMENT_BODY.items() if k != "cnpj"}, "cpf": "390.533.447-05"}, ["cpf"]),
    ("PATCH", "/commercial-establishments/{establishment_id}", "/commercial-establishments/1",
     {k: v for k, v in ESTABLISHMENT_BODY.items() if k != "cnpj"} | {"address": ADDRESS},
     ["fictitiousName", "businessActivityId", "latitude", "longitude", "address", "address.street", "active"]),
    ("POST", "/partners/{partner_id}/grants", "/partners/1/grants", {"commercialEstablishmentId": 1},
     ["commercialEstablishmentId"]),
    ("POST", "/partners/{partner_id}/grants", "/partners/1/grants", {"cnpjRoot": "11222333"}, ["cnpjRoot"]),
    ("POST", "/promotions", "/promotions", PROMOTION, [k for k in PROMOTION if k != "description"]),
    ("PATCH", "/promotions/{promotion_id}", "/promotions/1", PROMOTION, [k for k in PROMOTION if k != "description"]),
    ("POST", "/transactions", "/transactions", TRANSACTION,
     [*(k for k in TRANSACTION if not k.startswith("product")), "productPrimary", "productPrimary.description",
      "productSecondary", "productSecondary.description"]),
    ("POST", "/transactions", "/transactions", {**TRANSACTION, "cardId": None, "cardNumber": "4111111111111111"},
     ["cardNumber"]),
    ("POST", "/transactions/batch", "/transactions/batch", {"transactions": [TRANSACTION]}, ["transactions"]),
    ("POST", "/transactions/{transaction_id}/cancellation", "/transactions/1/cancellation",
     {"occurredAt": "2026-03-02T12:00:00-03:00"}, ["occurredAt"]),
    ("POST", "/transactions/{transaction_id}/undo", "/transactions/1/undo", {"occurredAt": "2026-03-02T12:00:00-03:00"},
     ["occurredAt"]),
    ("GET", "/commercial-establishments", "/commercial-establishments", None, ["offset", "limit"]),
    ("GET", "/promotions", "/promotions", None, ["offset", "limit"]),
    ("GET", "/transactions", "/transactions", None, ["holderId", "cardId", "commercialEstablishmentId", "offset", "limit"]),
    ("GET", "/subscription-requests", "/subscription-requests", None, ["state", "offset", "limit"]),
]
CASES = [(method, called, body, name) for method, _, called, body, names in OPERATIONS for name in names]


def _emptied(body: dict, name: str) -> dict:
    outer, _, inner = name.partition(".")
    return {**body, outer: {**body[outer], inner: ""}} if inner else {**body, name: ""}


@pytest.mark.parametrize("method, path, body, name", CASES, ids=[f"{m} {p} {n}" for m, p, _, n in CASES])
def test_an_empty_value_is_a_400_naming_the_field(client, admin, settings, method, path, body, name):
    audited = db_sql(settings, "SELECT COUNT(*) FROM audit_log")[0][0]
    if body is None:
        response = client.request(method, "/admin/v1/sandbox" + path, params={name: ""}, headers=admin)
    else:
        response = client.request(method, "/admin/v1/sandbox" + path, json=_emptied(body, name), headers=admin)
    assert response.status_code == 400, response.text
    assert name.rpartition(".")[2] in response.json()["detail"]
    assert db_sql(settings, "SELECT COUNT(*) FROM audit_log")[0][0] == audited  # nothing was written


def test_an_empty_description_is_a_description_with_nothing_to_say(client, admin):
    """Partners' and promotions' descriptions are free text that may be empty (their default)."""
    created = client.post("/admin/v1/sandbox/partners", json={**PARTNER_BODY, "description": ""}, headers=admin)
    assert created.status_code == 201 and created.json()["description"] == ""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_documented_back_office_field_is_covered(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    covered = {(m, p, n.partition(".")[0]) for m, p, _, _, names in OPERATIONS for n in names}
    documented = set()
    for path, operations in document["paths"].items():
        if not path.startswith("/admin/v1/{env}"):
            continue
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            schema = schemas[schema["$ref"].rpartition("/")[2]] if "$ref" in schema else schema
            names += [n for n in schema.get("properties", {}) if n != "description"]
            documented |= {(method.upper(), path.removeprefix("/admin/v1/{env}"), n) for n in names}
    assert documented and documented <= covered, sorted(documented - covered)
