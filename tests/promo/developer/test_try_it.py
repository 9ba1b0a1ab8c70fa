"""The panel's "try it": a ready sign-in link of a sandbox application to the sandbox's callback
page, with a fresh state and a PKCE challenge whose verifier is shown (API.md §3.1, §5)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.testclient import TestClient
from stdnum.br import cpf

from tests.support.panel import Panel, csrf_of, field
from tests.support.promo import SANDBOX

CALLBACK = "http://127.0.0.1:8000/sandbox/callback"


def _try_it(page: str) -> tuple[str, str, dict[str, str]]:
    """The sign-in link, the verifier, and the link's query."""
    link = html.unescape(re.search(r'href="([^"]+)"[^>]*data-field="sign_in_link"', page).group(1))
    verifier = re.search(r"CODE_VERIFIER='([^']+)'", page).group(1)
    return link, verifier, {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}


def _sign_in(client, link: str, password: str = "senha muito segura") -> str:
    """Follow the link as the holder's browser: sign up (or in), Allow; where the browser lands."""
    page = client.get(link)
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_of(page.text), "request": re.search(r'name="request" value="([^"]+)"', page.text).group(1),
            "password": password}
    if 'name="password_confirm"' in page.text:
        data.update(password_confirm=password, accept_terms="yes")
    consent = client.post(SANDBOX + "/oauth/login", data=data)
    assert consent.status_code == 200 and "Allow" in consent.text, consent.text
    landed = client.post(SANDBOX + "/oauth/consent", follow_redirects=False, data={
        "csrf_token": csrf_of(consent.text), "request": data["request"], "decision": "allow"})
    assert landed.status_code == 303, landed.text
    return landed.headers["location"]


def test_the_link_signs_in_and_its_verifier_exchanges_the_code(client):
    panel = Panel(client)
    panel.register("ana@example.com")
    creds = panel.application_with_token(redirect_urls=CALLBACK)
    page = client.get(f"/developer/applications/{creds.app_id}").text
    link, verifier, query = _try_it(page)
    assert f"CLIENT_ID='{creds.client_id}'" in page and "read -rs CLIENT_SECRET" in page
    assert query["client_id"] == creds.client_id and query["redirect_url"] == CALLBACK
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == create_s256_code_challenge(verifier)
    assert cpf.is_valid(query["cpf"]) and f'data-field="state">{query["state"]}<' in page

    again = client.get(f"/developer/applications/{creds.app_id}").text
    _, other_verifier, other = _try_it(again)
    assert other["state"] != query["state"] and other_verifier != verifier  # fresh each time
    assert other["cpf"] == query["cpf"]  # the developer's own test holder, each time

    landed = _sign_in(client, link)
    assert landed.startswith(CALLBACK + "?")
    code, state = (parse_qs(urlsplit(landed).query)[k][0] for k in ("code", "state"))
    assert state == query["state"]
    shown = client.get(urlsplit(landed).path + "?" + urlsplit(landed).query).text
    assert "CODE_VERIFIER" in shown and field(shown, "code") == code
    exchanged = client.post(SANDBOX + "/access-token", auth=(creds.client_id, creds.client_secret),
                            headers={"Client-Id": creds.client_id},
                            json={"grant_type": "authorization_code", "code": code, "code_verifier": verifier})
    assert exchanged.status_code == 201, exchanged.text

    # the second time, the same test holder signs in with the password chosen the first time
    link, verifier, _ = _try_it(client.get(f"/developer/applications/{creds.app_id}").text)
    page = client.get(link)
    assert 'name="password_confirm"' not in page.text and "Sign in" in page.text


def test_without_the_callback_registered_it_offers_to_add_it(client):
    panel = Panel(client)
    panel.register("ana@example.com")
    creds = panel.application_with_token(redirect_urls="https://app.example.com/callback")
    page = client.get(f"/developer/applications/{creds.app_id}").text
    assert 'data-field="sign_in_link"' not in page and "Add the callback page" in page
    added = panel.post_form(f"/developer/applications/{creds.app_id}", f"/developer/applications/{creds.app_id}/redirect-urls",
                            {"redirect_url": CALLBACK})
    assert added.status_code == 200 and 'data-field="sign_in_link"' in added.text


def test_production_applications_have_no_try_it(client):
    panel = Panel(client)
    panel.register("ana@example.com")
    creds = panel.application_with_token(environment="production", redirect_urls=CALLBACK)
    page = client.get(f"/developer/applications/{creds.app_id}").text
    assert 'id="try-it"' not in page


def test_the_callback_lives_on_the_public_address(settings):
    from cielo.app import create_app

    public = settings.model_copy(update={"public_url": "http://localhost:8951"})
    with TestClient(create_app(public)) as client:
        panel = Panel(client)
        panel.register("ana@example.com")
        creds = panel.application_with_token(redirect_urls="http://localhost:8951/sandbox/callback")
        _, _, query = _try_it(client.get(f"/developer/applications/{creds.app_id}").text)
        assert query["redirect_url"] == "http://localhost:8951/sandbox/callback"


def test_the_panel_links_to_the_api_reference_and_the_guide(client):
    for path in ("/developer/sign-in", "/developer/sign-up"):
        page = client.get(path).text
        assert 'href="/docs"' in page and 'href="/docs/API.md"' in page
    guide = client.get("/docs/API.md")
    assert guide.status_code == 200 and guide.text.startswith("# The APIs, in words")
    assert guide.headers["content-type"] == "text/plain; charset=utf-8"
    panel = Panel(client)
    panel.register("ana@example.com")
    assert 'href="/docs/API.md"' in client.get("/developer/applications").text
