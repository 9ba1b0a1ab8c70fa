"""What a person sees when a sign-in or card link cannot go on (API.md §3.1): a redirect URL the
application did not register is, to a browser, a page naming the URL received and saying where
redirect URLs are registered (never which ones); an API client keeps the JSON string. A dead
link's page says to go back to the application for a fresh link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.db import db_sql
from tests.support.promo import (
    REDIRECT,
    SANDBOX,
    add_card,
    authorize,
    check,
    login_params,
    tokens_for,
)

CHROMIUM = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
UNREGISTERED = "https://evil.example.com/cb?x=<b>1</b>&y=2"

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _page_for_a_person(response) -> None:
    assert response.status_code == 400 and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "https://evil.example.com/cb?x=&lt;b&gt;1&lt;/b&gt;&amp;y=2" in response.text  # named, escaped
    assert "<b>1</b>" not in response.text
    assert "developer panel" in response.text and "registered" in response.text
    assert REDIRECT not in response.text and "other.example.com" not in response.text  # never the registered ones


def _json_for_a_client(response) -> None:
    assert response.status_code == 400 and "location" not in response.headers
    assert response.json() == "The 'redirect_url' is not one of the redirect URLs registered for this client."
    check(response, SANDBOX)


def test_login_redirect_mismatch_to_a_browser_and_to_a_client(client, creds):
    params = login_params(creds, redirect_url=UNREGISTERED)
    for accept in (CHROMIUM, FIREFOX):
        _page_for_a_person(client.get(SANDBOX + "/login", params=params, headers={"Accept": accept},
                                      follow_redirects=False))
    for accept in ("", "*/*", "application/json", "application/json, text/html;q=0.9", "text/html;q=0.5, */*"):
        _json_for_a_client(client.get(SANDBOX + "/login", params=params, headers={"Accept": accept},
                                      follow_redirects=False))


def test_cards_redirect_mismatch_to_a_browser_and_to_a_client(client, creds):
    tokens = tokens_for(client, creds)
    params = {"client_id": creds.client_id, "access_token": tokens["access_token"], "redirect_url": UNREGISTERED}
    _page_for_a_person(client.get(SANDBOX + "/cards", params=params, headers={"Accept": CHROMIUM},
                                  follow_redirects=False))
    _json_for_a_client(client.get(SANDBOX + "/cards", params=params, follow_redirects=False))


def _says_open_a_fresh_link(response, what: str) -> None:
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert what in response.text
    assert "Go back to the application" in response.text and "fresh link" in response.text


def test_an_expired_or_used_sign_in_link_says_to_start_again(client, creds, settings):
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    db_sql(settings, "UPDATE oauth_requests SET expires_at = created_at")
    _says_open_a_fresh_link(client.get(location), "has expired")
    request_id = parse_qs(urlsplit(location).query)["request"][0]
    _says_open_a_fresh_link(client.post(SANDBOX + "/oauth/login", data={"request": request_id, "password": "x"}),
                            "has expired")

    authorize(client, creds)
    [(used,)] = db_sql(settings, "SELECT public_id FROM oauth_requests WHERE completed_at IS NOT NULL")
    _says_open_a_fresh_link(client.get(SANDBOX + "/oauth/login", params={"request": used}), "already been used")
    _says_open_a_fresh_link(client.get(SANDBOX + "/oauth/login", params={"request": "x" * 43}), "not valid")


def test_a_used_card_link_says_to_start_again(client, creds, settings):
    tokens = tokens_for(client, creds)
    assert add_card(client, creds, tokens).status_code == 303
    [(used,)] = db_sql(settings, "SELECT public_id FROM card_requests")
    page = client.get(SANDBOX + "/oauth/cards", params={"request": used})
    _says_open_a_fresh_link(page, "already been used")
    assert "card page again" in page.text
