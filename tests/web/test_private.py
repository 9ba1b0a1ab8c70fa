"""API.md §2, §3.1: answers carrying personal data, secrets or tokens send `Cache-Control:
no-store` (success, error and redirect alike); the /login and /cards redirects and every page
also send `Referrer-Policy: no-referrer`. One rule decides it (web/private.py)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.db import WHITELABEL
from tests.support.promo import (
    PRODUCTION,
    SANDBOX,
    authorize,
    basic,
    card_page,
    code_of,
    login_params,
    partner_app,
    tokens_for,
)

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _answers(client, auth) -> tuple[dict, dict]:
    """(answers that must not be stored, those that must also tell no referrer), by name."""
    creds = partner_app(client)
    tokens = tokens_for(client, creds)
    holder = {"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]}
    page = {"_offset": "0", "_limit": "10"}
    this_year = {"start_date": f"{date.today().year}-01-01", "end_date": f"{date.today().year}-12-31"}
    customer = {"canvas_space_name": "space-1", "api_key": "k", "api_secret": "s3cret"}
    code = code_of(authorize(client, creds))
    stored = {
        "/me": client.get(SANDBOX + "/me", headers=holder),
        "/me without a token": client.get(SANDBOX + "/me"),
        "production /me without a token": client.get(PRODUCTION + "/me"),
        "/me/cards": client.get(SANDBOX + "/me/cards", params=page, headers=holder),
        "/me/cards/{id}": client.get(SANDBOX + "/me/cards/1", headers=holder),
        "/me/transactions": client.get(SANDBOX + "/me/transactions", params={**page, **this_year}, headers=holder),
        "white-label POST": client.post(WHITELABEL, json=customer, headers=auth),
        "white-label GET": client.get(WHITELABEL, headers=auth),
        "white-label GET one": client.get(WHITELABEL + "/space-1", headers=auth),
        "white-label refused": client.get(WHITELABEL),
        "/access-token": client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code", "code": code},
                                     headers=basic(creds)),
        "/access-token refused": client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code",
                                                                              "code": "x"}, headers=basic(creds)),
        "/refresh-token": client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token",
                                                                        "code": tokens["refresh_token"]},
                                      headers=basic(creds)),
    }
    login = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)
    cards = client.get(SANDBOX + "/cards", params={"client_id": creds.client_id, "access_token": tokens["access_token"],
                                                   "redirect_url": "https://app.example.com/callback"},
                       follow_redirects=False)
    no_referrer = {
        "/login redirect": login,
        "/login refused": client.get(SANDBOX + "/login", params=login_params(creds, cpf="111.111.111-11"),
                                     follow_redirects=False),
        "/cards redirect": cards,
        "production /login redirect": client.get(PRODUCTION + "/login", params=login_params(partner_app(
            client, environment="production", email="prod@example.com")), follow_redirects=False),
        "sign-in page": client.get(login.headers["location"]),
        "card page": card_page(client, creds, tokens),
        "a dead link's page": client.get(SANDBOX + "/oauth/login", params={"request": "x"}),
        "developer sign-in page": client.get("/developer/sign-in"),
        "the API reference": client.get("/docs"),
    }
    assert login.status_code == cards.status_code == 301
    return stored, no_referrer


def test_private_answers_are_never_stored(client, auth):
    stored, no_referrer = _answers(client, auth)
    for name, response in {**stored, **no_referrer}.items():
        assert response.headers.get_list("cache-control") == ["no-store"], name
    for name, response in no_referrer.items():
        assert response.headers.get_list("referrer-policy") == ["no-referrer"], name
    # only those: a public answer keeps what its route says
    assert "cache-control" not in client.get("/healthz").headers
