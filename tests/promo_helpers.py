"""Driving the holder authorization flow from tests."""

from __future__ import annotations

import base64
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

from tests.panel_helpers import Credentials, Panel, csrf_of
from tests.reference_check import reference

SANDBOX = "/sandbox/promotions/v1"
PRODUCTION = "/promotions/v1"
REDIRECT = "https://app.example.com/callback"
HOLDER_PASSWORD = "senha muito segura"
NEXT_YEAR = str(date.today().year + 1)
MARIA = {"name": "Maria Silva", "cpf": "390.533.447-05", "birthdate": "1990-05-17", "email": "maria@example.com"}


def check(response, base: str) -> None:
    """Validate a Promo answer (status and body) against the reference document."""
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    path = urlsplit(str(response.request.url)).path
    reference("promotions-v1.openapi.yaml").check(response.request.method, path, response.status_code, body, base=base)


def basic(creds: Credentials) -> dict[str, str]:
    encoded = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    return {"Client-Id": creds.client_id, "Authorization": f"Basic {encoded}"}


def login_params(creds: Credentials, **overrides) -> dict:
    params = {"client_id": creds.client_id, "redirect_url": REDIRECT, **MARIA, "state": "st-123"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def request_id_of(html: str) -> str:
    return re.search(r'name="request" value="([^"]+)"', html).group(1)


def sign_in_to_consent(client, base: str, location: str, password: str = HOLDER_PASSWORD):
    page = client.get(location)
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_of(page.text), "request": request_id_of(page.text), "password": password}
    if 'name="password_confirm"' in page.text:
        data.update(password_confirm=password, accept_terms="yes")
    return client.post(base + "/oauth/login", data=data, follow_redirects=False), request_id_of(page.text)


def authorize(client, creds: Credentials, base: str = SANDBOX, decision: str = "allow",
              password: str = HOLDER_PASSWORD, **params) -> str:
    """/login → sign up or in → consent; returns the URL the browser is sent back to."""
    response = client.get(base + "/login", params=login_params(creds, **params), follow_redirects=False)
    assert response.status_code == 301, response.text
    submitted, request_id = sign_in_to_consent(client, base, response.headers["location"], password)
    assert submitted.status_code == 303, submitted.text
    consent = client.get(submitted.headers["location"])
    final = client.post(base + "/oauth/consent",
                        data={"csrf_token": csrf_of(consent.text), "request": request_id, "decision": decision},
                        follow_redirects=False)
    assert final.status_code == 303, final.text
    return final.headers["location"]


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["code"][0]


def tokens_for(client, creds: Credentials, base: str = SANDBOX, **params) -> dict:
    code = code_of(authorize(client, creds, base, **params))
    response = client.post(base + "/access-token", json={"grant_type": "authorization_code", "code": code},
                           headers=basic(creds))
    assert response.status_code == 201, response.text
    return response.json()


def partner_app(client, environment: str = "sandbox", email: str = "dev@example.com") -> Credentials:
    panel = Panel(client)
    panel.register(email)
    creds = panel.application_with_token(environment=environment, redirect_urls=f"{REDIRECT}\nhttps://other.example.com/cb")
    client.cookies.clear()  # the holder's browser is not the developer's
    return creds


def card_page(client, creds, tokens, redirect=REDIRECT):
    response = client.get(SANDBOX + "/cards", params={"client_id": creds.client_id, "access_token": tokens["access_token"],
                                                      "redirect_url": redirect}, follow_redirects=False)
    assert response.status_code == 301, response.text
    return client.get(response.headers["location"])


def add_card(client, creds, tokens, **fields):
    page = card_page(client, creds, tokens)
    data = {"csrf_token": csrf_of(page.text), "request": re.search(r'name="request" value="([^"]+)"', page.text).group(1),
            "card_number": "4111 1111 1111 1111", "expiry_month": "12", "expiry_year": NEXT_YEAR, "cvv": "123",
            "holder_name": "MARIA SILVA", "type": "CREDIT", **fields}
    return client.post(SANDBOX + "/oauth/cards", data=data, follow_redirects=False)
