"""Every kind of caller of the service, set up through the service's own flows, and what each
route of the application takes as its credential — shared by the tests that drive every route
(tests/web/test_auth_matrix.py, tests/web/test_number_inputs.py, tests/test_logs.py).

A route's credential class comes from the route table: its path and the security its OpenAPI
operation declares. A route no rule here knows has no class, and the tests that walk the
table fail on it, so a route added later is covered or noticed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi.routing import APIRoute
from starlette.routing import Route

from cielo.config import Settings
from cielo.promo.environments import Environment
from tests.support.db import WHITELABEL, db_sql, make_token
from tests.support.panel import Credentials, Panel, csrf_of
from tests.support.promo import MARIA, REDIRECT, tokens_for

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/redoc"),
          ("GET", "/docs/assets/{name}"), ("GET", "/developer"), ("GET", "/developer/sign-in"),
          ("POST", "/developer/sign-in"), ("GET", "/developer/sign-up"), ("POST", "/developer/sign-up"),
          ("GET", "/docs/API.md"),
          # the sandbox's redirect target: it shows what the address carries (a code, a card id)
          ("GET", "/sandbox/callback")}
ENVIRONMENTS = {env.value: env for env in Environment}


@dataclass(frozen=True)
class Operation:
    """One method of one route, with what its OpenAPI operation (if any) says."""

    method: str
    template: str  # the path as the route declares it, convertors removed: /me/cards/{card_id}
    route: Route
    document: dict = field(compare=False, hash=False, repr=False)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{([^}:]+)", self.template)

    @property
    def environment(self) -> str:
        """The environment a Promotions API path belongs to (the back office's baseline is sandbox)."""
        return "sandbox" if self.template.startswith(("/sandbox/", "/admin/")) else "production"

    @property
    def promo_base(self) -> str | None:
        for env in Environment:
            if self.template.startswith(env.base_path + "/"):
                return env.base_path
        return None


def operations(app) -> list[Operation]:
    """Every method of every route of the application, in the table's order."""
    document = app.openapi()
    found = []
    for route in app.routes:
        if not isinstance(route, (APIRoute, Route)) or not getattr(route, "methods", None):
            continue
        template = re.sub(r"{([^}:]+):[^}]+}", r"{\1}", route.path)
        for method in sorted(route.methods - {"HEAD"}):
            operation = document["paths"].get(template, {}).get(method.lower(), {})
            found.append(Operation(method, template, route, operation))
    return found


def credential_class(op: Operation) -> str | None:
    """What the operation takes as its credential, or None when no rule knows it."""
    security = op.document.get("security")
    tags = set(op.document.get("tags", ()))
    rest = op.template[len(op.promo_base):] if op.promo_base else None
    if (op.method, op.template) in PUBLIC:
        return "public"
    if op.template.startswith(WHITELABEL):
        return "whitelabel" if security == [{"Bearer": []}] else None
    if op.template.startswith("/admin/v1/"):
        return "admin"
    if op.template.startswith("/developer/"):
        return "developer"
    if rest is None:
        return None
    if rest.startswith("/oauth/"):
        return "page"  # a sign-in or card page: its one-time request id is the credential
    if security == [{"ClientId": [], "ClientBasic": []}]:
        return "client-basic"
    if rest == "/login" and security == []:
        return "client-query"
    if rest == "/cards":
        return "holder-query"
    if security == [{"ClientId": [], "AccessToken": []}]:
        if tags == {"Fidelity"} and rest.startswith("/me"):
            return "holder"
        if tags & {"Commercial establishments", "Promotions"} and not rest.startswith("/me"):
            return "partner"
    return None


@dataclass
class Environmentals:
    """One environment's callers: an application of the developer and one of another (another
    tenant), each with an Access-Token, and the holder signed in through each."""

    app: Credentials
    other: Credentials
    holder: dict
    other_holder: dict


@dataclass
class Callers:
    settings: Settings
    admin: str
    whitelabel: str
    envs: dict[str, Environmentals]
    developer_cookie: str  # the signed-in developer's cookies, as a Cookie header
    csrf: str  # the form token that goes with them
    other_app_id: int  # an application of another developer (sandbox)
    secrets: list[str] = field(default_factory=list)  # every token and secret handed out

    def promo(self, op: Operation) -> Environmentals:
        return self.envs[op.environment]


def _developer(client, email: str) -> dict[str, Credentials]:
    panel = Panel(client)
    panel.register(email)
    return {env: panel.application_with_token(environment=env, redirect_urls=REDIRECT) for env in ENVIRONMENTS}


def set_up(client, settings: Settings) -> Callers:
    """Two developers (each an application per environment), the holder signed in through every
    one of them, bearer tokens of each scope; the client's cookie jar is left empty."""
    admin, whitelabel = make_token(settings, "admin")[1], make_token(settings, "whitelabel")[1]
    client.cookies.clear()
    others = _developer(client, "other.dev@example.com")
    other_app_id = others["sandbox"].app_id
    client.cookies.clear()
    apps = _developer(client, "dev@example.com")
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
    csrf = csrf_of(client.get("/developer/applications").text)
    client.cookies.clear()
    envs = {}
    for name, env in ENVIRONMENTS.items():
        holder = tokens_for(client, apps[name], env.base_path)
        other_holder = tokens_for(client, others[name], env.base_path)
        client.cookies.clear()
        envs[name] = Environmentals(apps[name], others[name], holder, other_holder)
    callers = Callers(settings, admin, whitelabel, envs, cookie, csrf, other_app_id)
    callers.secrets = [admin, whitelabel, csrf]
    for e in envs.values():
        for creds in (e.app, e.other):
            callers.secrets += [creds.client_secret, creds.access_token or ""]
        for pair in (e.holder, e.other_holder):
            callers.secrets += [pair["access_token"], pair["refresh_token"]]
    callers.secrets += [part.split("=", 1)[1] for part in cookie.split("; ")]
    return callers


def seed_rows(client, callers: Callers) -> None:
    """An establishment, a promotion and a subscription request in each environment — the
    production ones first, so that id 1 names them, the establishment granted to the partner
    of the developer's production application — for the routes that read them."""
    admin = {"Authorization": f"Bearer {callers.admin}"}
    for name in ("production", "sandbox"):
        env, app = ENVIRONMENTS[name], callers.envs[name].app
        shop = client.post(f"/admin/v1/{name}/commercial-establishments", headers=admin, json={
            "fictitiousName": "Loja", "businessActivityId": 5812, "cnpj": "11.222.333/0001-81",
            "latitude": -23.5614, "longitude": -46.6559})
        assert shop.status_code == 201, shop.text
        promo = client.post(f"/admin/v1/{name}/promotions", headers=admin, json={
            "commercialEstablishmentId": shop.json()["id"], "title": "Promo", "description": "", "campaignType": "G",
            "startDate": "2026-01-01", "endDate": "2999-12-31", "active": True, "premium": "10%", "rules": {}})
        assert promo.status_code == 201, promo.text
        if name == "production":  # a production application acts only for what its partner was granted
            partner = client.post(f"/admin/v1/{name}/partners", headers=admin, json={
                "name": "Parceiro", "term": "https://partner.example.com/terms", "associationType": "AUTOMATIC"})
            assert partner.status_code == 201, partner.text
            linked = client.patch(f"/admin/v1/{name}/applications/{app.app_id}", headers=admin,
                                  json={"partnerId": partner.json()["id"]})
            assert linked.status_code == 200, linked.text
            granted = client.post(f"/admin/v1/{name}/partners/{partner.json()['id']}/grants", headers=admin,
                                  json={"commercialEstablishmentId": shop.json()["id"]})
            assert granted.status_code == 201, granted.text
        queued = client.post(f"{env.base_path}/commercial-establishments/{shop.json()['id']}/subscriptions",
                             json={"promotionID": promo.json()["id"], "action": "S"},
                             headers={"Client-Id": app.client_id, "Access-Token": app.access_token})
        assert queued.status_code == 202, queued.text


# ---- a request with valid inputs (the tests change one thing at a time) ----------------------

BASELINE_QUERY = {"client_id": None, "access_token": None, "redirect_url": REDIRECT, **MARIA}


def baseline_path(op: Operation, values: dict[str, str] | None = None) -> str:
    values = values or {}
    path = op.template
    for name in op.path_params:
        value = values.get(name)
        if value is None:
            value = {"env": "sandbox", "canvas_space_name": "cielo24-test", "name": "swagger-ui.css"}.get(name, "1")
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def query_parameters(op: Operation) -> list[dict]:
    return [p for p in op.document.get("parameters", ()) if p.get("in") == "query"]


def baseline_query(op: Operation, callers: Callers) -> dict[str, str]:
    """The operation's required query parameters (and those with an example), valid."""
    creds = callers.promo(op)
    query = {}
    for parameter in query_parameters(op):
        name = parameter["name"]
        if name in BASELINE_QUERY:
            value = BASELINE_QUERY[name]
            if name == "client_id":
                value = creds.app.client_id
            elif name == "access_token":
                value = creds.holder["access_token"]
            query[name] = value
        elif "example" in parameter:
            query[name] = str(parameter["example"]).lower() if isinstance(parameter["example"], bool) \
                else str(parameter["example"])
        elif parameter.get("required"):
            raise AssertionError(f"{op.method} {op.template}: no valid value known for the query parameter {name}")
    return query


def body_of(op: Operation, callers: Callers) -> dict:
    """What to send as the body: a form with the developer's CSRF token on the panel, a JSON
    body where the Promotions API reads one, an empty JSON object in the back office."""
    if op.method in ("GET", "DELETE") and not op.template.startswith(WHITELABEL):
        return {}
    if op.template.startswith("/developer/") or (op.promo_base and "/oauth/" in op.template):
        return {"data": {"csrf_token": callers.csrf}}
    if op.template.startswith(WHITELABEL):
        return {"json": {"canvas_space_name": "cielo24-test", "api_key": "k", "api_secret": "s"}}
    if op.template.endswith("-token"):
        return {"json": {"grant_type": "authorization_code", "code": "x" * 43}}
    if op.promo_base:
        return {"json": {"promotionID": 1, "action": "S"}}
    return {"json": {}}


def valid_credentials(op: Operation, callers: Callers, kind: str) -> dict:
    """Keyword arguments (headers, query additions) carrying a valid credential of ``kind``."""
    creds = callers.promo(op) if op.promo_base else None
    if kind == "whitelabel":
        return {"headers": {"Authorization": f"Bearer {callers.whitelabel}"}}
    if kind == "admin":
        return {"headers": {"Authorization": f"Bearer {callers.admin}"}}
    if kind == "developer":
        return {"headers": {"Cookie": callers.developer_cookie}}
    if creds is None:
        return {}  # public
    if kind == "partner":
        return {"headers": {"Client-Id": creds.app.client_id, "Access-Token": creds.app.access_token}}
    if kind == "holder":
        return {"headers": {"Client-Id": creds.app.client_id, "Access-Token": creds.holder["access_token"]}}
    if kind == "client-basic":
        import base64

        encoded = base64.b64encode(f"{creds.app.client_id}:{creds.app.client_secret}".encode()).decode()
        return {"headers": {"Client-Id": creds.app.client_id, "Authorization": f"Basic {encoded}"}}
    return {}  # the query carries the rest (client-query, holder-query); pages and public routes take none


def set_columns(settings: Settings, table: str, public_id_of: str, prefix: str, assignments: str) -> None:
    """``UPDATE table SET assignments`` for the row of a token (found by its public id)."""
    from cielo.security import tokens

    parts = tokens.parse(public_id_of, prefix)
    assert parts is not None, public_id_of
    db_sql(settings, f"UPDATE {table} SET {assignments} WHERE public_id = '{parts[0]}'")
