"""API.md §2 for every field of the Promotions API (promo/errors.given): a mandatory parameter
or body field that is absent is a 422; one present but invalid, empty (or null in a body)
included, is a 400. Credentials (Client-Id, Access-Token, /login's client_id, /cards'
client_id and access_token) are 401s instead, and are not fields here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from tests.support.promo import (
    MARIA,
    PAULISTA,
    REDIRECT,
    SANDBOX,
    authorize,
    basic,
    check,
    code_of,
    tokens_for,
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as documented
    url: str  # as called (ids filled in)
    who: str  # "partner", "holder", "holder in the query", "client" (Basic) or "anyone"
    query: dict = field(default_factory=dict)
    body: dict | None = None


TODAY = date.today().isoformat()
PAGE = {"_offset": "0", "_limit": "10"}
SEARCH = {"latitude": str(PAULISTA[0]), "longitude": str(PAULISTA[1]), "radius": "2000", **PAGE}
LOGIN = {"redirect_url": REDIRECT, **MARIA, "state": "st-123"}
OPERATIONS = {
    "search": Operation("GET", "/promotions", "/promotions", "partner", SEARCH),
    "establishments": Operation("GET", "/commercial-establishments", "/commercial-establishments", "partner"),
    "subscriptions": Operation("GET", "/commercial-establishments/{commercial_establishment_id}/subscriptions",
                               "/commercial-establishments/1/subscriptions", "partner"),
    "queue": Operation("GET", "/subscriptions/queue", "/subscriptions/queue", "partner"),
    "subscribe": Operation("POST", "/commercial-establishments/{commercial_establishment_id}/subscriptions",
                           "/commercial-establishments/1/subscriptions", "partner",
                           body={"promotionID": 1, "action": "S"}),
    "requeue": Operation("PATCH", "/subscriptions/{subscription_id}", "/subscriptions/1", "partner",
                         body={"promotionID": 1, "action": "U"}),
    "cards": Operation("GET", "/me/cards", "/me/cards", "holder", PAGE),
    "card": Operation("GET", "/me/cards/{card_id}", "/me/cards/1", "holder"),
    "transactions": Operation("GET", "/me/transactions", "/me/transactions", "holder",
                              {**PAGE, "start_date": TODAY, "end_date": TODAY}),
    "login": Operation("GET", "/login", "/login", "anyone", LOGIN),
    "card page": Operation("GET", "/cards", "/cards", "holder in the query", {"redirect_url": REDIRECT}),
    "access-token": Operation("POST", "/access-token", "/access-token", "client",
                              body={"grant_type": "authorization_code", "code": "from a sign-in"}),
    "refresh-token": Operation("POST", "/refresh-token", "/refresh-token", "client",
                               body={"grant_type": "refresh_token", "code": "from a sign-in"}),
}

# (operation, field, mandatory): every query parameter and body field the document names, and
# the spellings it does not (e-mail; the code's redirect_url at /access-token)
FIELDS = [
    *(("search", name, True) for name in ("latitude", "longitude", "radius", "_offset", "_limit")),
    *(("search", name, False) for name in ("active", "type", "_sort")),
    *(("establishments", name, False) for name in ("cnpj", "cpf", "_offset", "_limit")),
    *(("subscriptions", name, False) for name in ("_offset", "_limit")),
    *(("queue", name, False) for name in ("_offset", "_limit")),
    *(("subscribe", name, True) for name in ("promotionID", "action")),
    *(("requeue", name, True) for name in ("promotionID", "action")),
    *(("cards", name, True) for name in ("_offset", "_limit")),
    ("cards", "_expand", False),
    ("card", "_expand", False),
    *(("transactions", name, True) for name in ("_offset", "_limit", "start_date", "end_date")),
    *(("login", name, True) for name in ("redirect_url", "name", "cpf", "birthdate", "email", "e-mail")),
    *(("login", name, False) for name in ("state", "code_challenge", "code_challenge_method")),
    ("card page", "redirect_url", True),
    *(("access-token", name, True) for name in ("grant_type", "code")),
    *(("access-token", name, False) for name in ("code_verifier", "redirect_url")),
    *(("refresh-token", name, True) for name in ("grant_type", "code")),
]
CREDENTIALS = {"client_id", "access_token"}


def call(client, op: Operation, creds, holder: dict | None, query: dict, body: dict | None):
    headers = {"Client-Id": creds.client_id}
    if op.who == "partner":
        headers["Access-Token"] = creds.access_token
    elif op.who == "holder":
        headers["Access-Token"] = holder["access_token"]
    elif op.who == "holder in the query":
        query = {**query, "client_id": creds.client_id, "access_token": holder["access_token"]}
    elif op.who == "client":
        headers = basic(creds)
    elif op.who == "anyone":
        headers, query = {}, {**query, "client_id": creds.client_id}
    return client.request(op.method, SANDBOX + op.url, params=query, json=body, headers=headers,
                          follow_redirects=False)


@pytest.mark.parametrize("operation, name, mandatory", FIELDS, ids=[f"{o} {n}" for o, n, _ in FIELDS])
def test_an_absent_field_is_422_and_an_empty_one_400(client, creds, operation, name, mandatory):
    op = OPERATIONS[operation]
    holder = tokens_for(client, creds) if op.who.startswith("holder") else None
    query, body = dict(op.query), dict(op.body) if op.body is not None else None
    if op.who == "client" and not mandatory:  # a real code, so that leaving the field out succeeds
        body["code"] = code_of(authorize(client, creds))
    if name == "e-mail":  # the other spelling of email, alone (absent, then email is missing)
        query.pop("email")
    values = [""] + ([None] if body is not None else [])
    for value in values:
        sent_query, sent_body = ({**query, name: value}, body) if body is None else (query, {**body, name: value})
        response = call(client, op, creds, holder, sent_query, sent_body)
        assert response.status_code == 400, (value, response.text)
        assert f"'{name}'" in response.json()
        check(response, SANDBOX)
    absent_query = {k: v for k, v in query.items() if k != name}
    absent_body = {k: v for k, v in body.items() if k != name} if body is not None else None
    absent = call(client, op, creds, holder, absent_query, absent_body)
    if mandatory:
        assert absent.status_code == 422 and absent.json()["code"] == "MISSING_PARAMETER", absent.text
        assert f"'{name if name != 'e-mail' else 'email'}'" in absent.json()["description"]
    else:
        assert absent.status_code < 400 or absent.status_code in (403, 404), absent.text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_documented_field_is_covered(client):
    """Each query parameter and body field of the served document, credentials aside, has its
    case above: a new field cannot be added without one."""
    document = client.get("/openapi.json").json()
    covered = {(OPERATIONS[o].method, OPERATIONS[o].path, n) for o, n, _ in FIELDS}
    documented = set()
    for path, operations in document["paths"].items():
        if not path.startswith(SANDBOX + "/"):
            continue
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            names += list(schema.get("properties", {}))
            documented |= {(method.upper(), path.removeprefix(SANDBOX), n) for n in names if n not in CREDENTIALS}
    assert documented and documented <= covered, sorted(documented - covered)
