"""Every route of the application's route table called with each wrong credential its class can
be given — none, garbage, an unknown client, an expired one, a revoked one, the other
environment's, another tenant's, the wrong kind or scope — and answered as API.md §1, §2 and §4
say: 401 or 403 in the API's own shape (the white-label API's literal 403), the panel's
sign-in page, never a 200, never a 5xx. A route whose credential class is unknown fails the
test, so a route added later is covered by it or noticed."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from cielo.promo.access import APP_TOKEN_PREFIX, HOLDER_TOKEN_PREFIX
from cielo.promo.developer.router import SESSION_COOKIE
from cielo.promo.developer.service import SESSION_PREFIX
from cielo.security.csrf import COOKIE as CSRF_COOKIE
from cielo.whitelabel.errors import UNAUTHORIZED_DETAIL
from tests.support.callers import (
    ENVIRONMENTS,
    Callers,
    Operation,
    baseline_path,
    baseline_query,
    body_of,
    credential_class,
    operations,
    seed_rows,
    set_columns,
    set_up,
)
from tests.support.db import db_sql, make_token
from tests.support.panel import Panel, field
from tests.support.promo import basic

# what each credential class can be given wrong; what a class cannot be given is said below
VARIANTS = {
    "whitelabel": ("none", "garbage", "revoked", "wrong-scope"),
    "admin": ("none", "garbage", "revoked", "wrong-scope"),
    "partner": ("none", "no-token", "garbage", "unknown-client", "revoked", "other-environment", "other-tenant",
                "wrong-kind", "wrong-scope"),
    "holder": ("none", "no-token", "garbage", "unknown-client", "expired", "revoked", "other-environment",
               "other-tenant", "wrong-kind"),
    "holder-query": ("none", "no-token", "garbage", "unknown-client", "expired", "revoked", "other-environment",
                     "other-tenant", "wrong-kind"),
    "client-basic": ("none", "garbage", "unknown-client", "revoked", "other-environment", "other-tenant", "wrong-kind"),
    "client-query": ("none", "garbage", "other-environment"),
    "page": ("none", "garbage"),
    "developer": ("none", "garbage", "expired", "revoked", "other-tenant"),
    "public": (),
}
NOT_APPLICABLE = {
    "whitelabel": "bearer tokens neither expire nor belong to an environment or tenant",
    "admin": "bearer tokens neither expire nor belong to an environment or tenant",
    "partner": "application Access-Tokens do not expire (they are revoked)",
    "client-basic": "a client secret does not expire (it is rotated); it has no scope",
    "client-query": "/login names a client, nothing more: no token to expire, revoke or scope",
    "page": "a page's credential is its one-time request id (the browser binding is the sign-in's own test)",
    "developer": "a developer's session has no environment, kind or scope",
    "public": "no credential",
}
PROMO_401 = {"none", "no-token", "garbage", "unknown-client", "expired", "revoked", "wrong-kind"}
PROMO_403 = {"other-environment", "other-tenant", "wrong-scope"}
GARBAGE = "garbage-credential-Zm9vYmFy"


@dataclass
class Wrong:
    """Credentials that are wrong in one way each, beyond those of Callers."""

    revoked_bearer: str
    revoked_app_token: dict[str, str]  # env -> a revoked Access-Token of the application
    holder_only_token: dict[str, str]  # env -> an Access-Token whose profile lacks the partner API
    expired_holder: dict[str, str]
    revoked_holder: dict[str, str]
    old_secret: dict[str, str]  # env -> the application's client secret before its rotation
    expired_session: str
    ended_session: str


@pytest.fixture
def plain(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _session_of(cookie: str) -> str:
    return dict(part.split("=", 1) for part in cookie.split("; "))[SESSION_COOKIE]


def _another_session(client, callers: Callers) -> str:
    client.cookies.clear()
    response = Panel(client).sign_in("dev@example.com")
    assert response.url.path == "/developer/applications", response.text
    session = client.cookies.get(SESSION_COOKIE)
    client.cookies.clear()
    return session


@pytest.fixture
def wrong(plain, settings) -> tuple[Callers, Wrong]:
    callers = set_up(plain, settings)
    seed_rows(plain, callers)
    revoked_id, revoked_bearer = make_token(settings, "all")
    db_sql(settings, f"UPDATE api_tokens SET revoked_at = created_at WHERE id = {revoked_id}")
    revoked_app, holder_only, expired, revoked_holder, old_secret = {}, {}, {}, {}, {}
    panel = Panel(plain)
    for name, env in callers.envs.items():
        plain.cookies.clear()
        for part in callers.developer_cookie.split("; "):
            plain.cookies.set(*part.split("=", 1))
        created = panel.create_token(env.app.app_id, name="revoked")
        revoked_app[name] = field(created.text, "access_token")
        set_columns(settings, "app_access_tokens", revoked_app[name], APP_TOKEN_PREFIX, "revoked_at = created_at")
        holder_only[name] = field(panel.create_token(env.app.app_id, name="holder-only", groups=("holder",)).text,
                                  "access_token")
        rotated = panel.post_form(f"/developer/applications/{env.app.app_id}",
                                  f"/developer/applications/{env.app.app_id}/rotate-secret", {})
        old_secret[name], env.app.client_secret = env.app.client_secret, field(rotated.text, "client_secret")
        plain.cookies.clear()
        pairs = []
        refresh = env.holder["refresh_token"]
        for _ in range(2):  # new pairs from the refresh token; the first pair stays valid
            response = plain.post(f"{ENVIRONMENTS[name].base_path}/refresh-token",
                                  json={"grant_type": "refresh_token", "code": refresh}, headers=basic(env.app))
            assert response.status_code == 201, response.text
            pairs.append(response.json())
            refresh = pairs[-1]["refresh_token"]
        expired[name], revoked_holder[name] = pairs[0]["access_token"], pairs[1]["access_token"]
        set_columns(settings, "holder_tokens", expired[name], HOLDER_TOKEN_PREFIX, "expires_at = created_at")
        set_columns(settings, "holder_tokens", revoked_holder[name], HOLDER_TOKEN_PREFIX, "revoked_at = created_at")
    expired_session, ended_session = _another_session(plain, callers), _another_session(plain, callers)
    set_columns(settings, "developer_sessions", expired_session, SESSION_PREFIX, "expires_at = created_at")
    set_columns(settings, "developer_sessions", ended_session, SESSION_PREFIX, "ended_at = created_at")
    return callers, Wrong(revoked_bearer, revoked_app, holder_only, expired, revoked_holder, old_secret,
                          expired_session, ended_session)


def _other(env: str) -> str:
    return "production" if env == "sandbox" else "sandbox"


def _credential(op: Operation, cls: str, variant: str, callers: Callers, wrong: Wrong) -> dict:
    """(headers, query changes) carrying one wrong credential; a None value removes a parameter."""
    name = op.environment
    env, there = callers.envs.get(name), callers.envs.get(_other(name))
    if cls in ("whitelabel", "admin"):
        token = {"none": None, "garbage": GARBAGE, "revoked": wrong.revoked_bearer,
                 "wrong-scope": callers.admin if cls == "whitelabel" else callers.whitelabel}[variant]
        return {"headers": {"Authorization": f"Bearer {token}"} if token else {}}
    if cls == "developer":
        session = {"none": None, "garbage": GARBAGE, "expired": wrong.expired_session, "revoked": wrong.ended_session,
                   "other-tenant": _session_of(callers.developer_cookie)}[variant]
        cookies = {CSRF_COOKIE: dict(p.split("=", 1) for p in callers.developer_cookie.split("; "))[CSRF_COOKIE]}
        if session:
            cookies[SESSION_COOKIE] = session
        return {"headers": {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}}
    if cls == "page":
        return {"query": {"request": None if variant == "none" else GARBAGE}}
    assert env is not None and there is not None
    if cls == "client-query":
        client_id = {"none": None, "garbage": GARBAGE, "other-environment": there.app.client_id}[variant]
        return {"query": {"client_id": client_id}}
    if cls == "client-basic":
        if variant == "none":
            return {}
        client = env.app.client_id
        if variant == "garbage":
            return {"headers": {"Client-Id": client, "Authorization": f"Basic {GARBAGE}"}}
        if variant == "wrong-kind":
            return {"headers": {"Client-Id": client, "Access-Token": env.app.access_token}}
        pair = {"unknown-client": ("nobody", "secret"), "revoked": (client, wrong.old_secret[name]),
                "other-environment": (there.app.client_id, there.app.client_secret),
                "other-tenant": (env.other.client_id, env.other.client_secret)}[variant]
        presented = pair[0] if variant in ("unknown-client", "other-environment") else client
        encoded = base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
        return {"headers": {"Client-Id": presented, "Authorization": f"Basic {encoded}"}}
    # partner, holder, holder-query: a Client-Id and an Access-Token
    holder_kind = cls != "partner"
    valid = env.holder["access_token"] if holder_kind else env.app.access_token
    client_id, token = {
        "none": (None, None),
        "no-token": (env.app.client_id, None),
        "garbage": (env.app.client_id, GARBAGE),
        "unknown-client": ("nobody", valid),
        "expired": (env.app.client_id, wrong.expired_holder[name]),
        "revoked": (env.app.client_id, wrong.revoked_holder[name] if holder_kind else wrong.revoked_app_token[name]),
        "other-environment": (there.app.client_id, there.holder["access_token"] if holder_kind else there.app.access_token),
        "other-tenant": (env.app.client_id, env.other_holder["access_token"] if holder_kind else env.other.access_token),
        "wrong-kind": (env.app.client_id, env.app.access_token if holder_kind else env.holder["access_token"]),
        "wrong-scope": (env.app.client_id, wrong.holder_only_token[name]),
    }[variant]
    if cls == "holder-query":
        return {"query": {"client_id": client_id, "access_token": token}}
    headers = {}
    if client_id:
        headers["Client-Id"] = client_id
    if token:
        headers["Access-Token"] = token
    return {"headers": headers}


def _call(client, op: Operation, cls: str, variant: str, callers: Callers, wrong: Wrong):
    changes = _credential(op, cls, variant, callers, wrong)
    query = baseline_query(op, callers)
    for key, value in changes.get("query", {}).items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    values = {"app_id": str(callers.other_app_id)} if cls == "developer" and variant == "other-tenant" else None
    client.cookies.clear()
    return client.request(op.method, baseline_path(op, values), params=query, headers=changes.get("headers", {}),
                          follow_redirects=False, **body_of(op, callers))


def _answered_as_documented(response, op: Operation, cls: str, variant: str, presented: list[str]) -> None:
    what = f"{op.method} {op.template} [{cls}: {variant}] -> {response.status_code} {response.text[:200]}"
    assert 300 <= response.status_code < 500, what
    for value in presented:
        assert value not in response.text, f"{what}: the credential is echoed"
    if cls == "whitelabel":
        assert response.status_code == 403 and response.json() == {"detail": UNAUTHORIZED_DETAIL}, what
    elif cls == "admin":
        expected = 403 if variant == "wrong-scope" else 401
        assert response.status_code == expected and isinstance(response.json()["detail"], str), what
        assert response.headers["www-authenticate"].startswith("Bearer"), what
    elif cls == "developer":
        if variant == "other-tenant":
            assert response.status_code == 404 and response.headers["content-type"].startswith("text/html"), what
        else:
            assert response.status_code == 303 and response.headers["location"].endswith("/developer/sign-in"), what
    elif cls == "page":
        assert 400 <= response.status_code < 500 and response.headers["content-type"].startswith("text/html"), what
    else:  # the Promotions API: a JSON string holding a sentence
        expected = 403 if variant in PROMO_403 else 401
        if cls == "client-basic" and variant == "other-tenant":
            expected = 401  # the Basic credentials are another client's: they do not authenticate this one
        assert response.status_code == expected, what
        body = response.json()
        assert isinstance(body, str) and body.endswith("."), what
        if variant == "wrong-kind" and cls != "client-basic":
            assert ("partner" if cls == "partner" else "holder") in body, what


def test_every_route_refuses_every_wrong_credential(plain, wrong, app):
    callers, wrong_ones = wrong
    table = operations(app)
    unknown = [f"{op.method} {op.template}" for op in table if credential_class(op) is None]
    assert unknown == [], "routes whose credential class the matrix does not know (add a rule to tests/support/callers.py)"
    assert set(VARIANTS) == set(NOT_APPLICABLE) | {"holder", "holder-query"}
    classes = {credential_class(op) for op in table}
    assert classes == set(VARIANTS), classes ^ set(VARIANTS)
    presented = [GARBAGE, wrong_ones.revoked_bearer, *wrong_ones.revoked_app_token.values(),
                 *wrong_ones.expired_holder.values(), *wrong_ones.revoked_holder.values(), *callers.secrets]
    calls = 0
    for op in table:
        cls = credential_class(op)
        assert cls is not None
        for variant in VARIANTS[cls]:
            if variant == "other-tenant" and cls == "developer" and "{app_id}" not in op.template:
                continue  # a page of one's own list or forms: there is no other developer's thing in it
            response = _call(plain, op, cls, variant, callers, wrong_ones)
            _answered_as_documented(response, op, cls, variant, [p for p in presented if len(p) > 8])
            calls += 1
    assert calls > 300


def test_the_valid_credentials_open_what_the_wrong_ones_do_not(plain, wrong, app):
    """The matrix's requests are right but for the credential: with the valid one, no route
    answers 401 or 403 (so each refusal above is the credential's)."""
    callers, _ = wrong
    from tests.support.callers import valid_credentials

    for op in operations(app):
        cls = credential_class(op)
        assert cls is not None
        if cls in ("public", "page", "developer") or op.template.endswith("/sign-out"):
            continue
        credentials = valid_credentials(op, callers, cls)
        plain.cookies.clear()
        response = plain.request(op.method, baseline_path(op), params=baseline_query(op, callers),
                                 headers=credentials.get("headers", {}), follow_redirects=False,
                                 **body_of(op, callers))
        assert response.status_code not in (401, 403) and response.status_code < 500, (
            f"{op.method} {op.template}: {response.status_code} {response.text[:200]}")


def test_a_route_added_without_a_known_credential_is_noticed(app):
    """The guard itself: a route of a kind the matrix has no rule for has no class (and the
    matrix then fails), whatever prefix it lives under."""
    from fastapi import APIRouter

    from cielo.promo import openapi as docs

    extra = APIRouter()
    extra.add_api_route("/promotions/v1/loyalty-points", lambda: None, methods=["GET"], tags=["Points"],
                        openapi_extra=docs.operation(docs.PARTNER))
    extra.add_api_route("/reports/daily", lambda: None, methods=["GET"])
    app.router.routes.extend(extra.routes)
    app.openapi_schema = None
    added = [op for op in operations(app) if op.template in ("/promotions/v1/loyalty-points", "/reports/daily")]
    assert len(added) == 2 and all(credential_class(op) is None for op in added)
