"""API.md §3.1: GET /login (no credential but a public Client ID) and GET /cards each write a row,
so each is limited per address and per client: past either, 429 with Retry-After, and nothing
written. (The limits are lowered here; their real values are generous.)"""

from __future__ import annotations

import pytest

from cielo.promo.oauth import service as oauth
from tests.support.db import db_sql
from tests.support.promo import REDIRECT, SANDBOX, another_browser, login_params, partner_app, tokens_for


def _login(browser, creds):
    return browser.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)


def _refused(response, whose: str) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1 and "location" not in response.headers
    assert whose in response.json()


def test_login_is_limited_per_address(app, client, creds, settings, monkeypatch):
    monkeypatch.setattr(oauth, "STARTS_PER_MINUTE_PER_ADDRESS", 3)
    other_app = partner_app(client, email="other@example.com")
    assert [_login(client, c).status_code for c in (creds, other_app, creds)] == [301, 301, 301]
    _refused(_login(client, other_app), "from this address")
    assert db_sql(settings, "SELECT count(*) FROM oauth_requests") == [(3,)]
    elsewhere = another_browser(app, client, ("203.0.113.9", 40000))
    assert _login(elsewhere, creds).status_code == 301


def test_login_is_limited_per_client(app, client, creds, settings, monkeypatch):
    monkeypatch.setattr(oauth, "STARTS_PER_MINUTE_PER_CLIENT", 3)
    other_app = partner_app(client, email="other@example.com")
    browsers = [another_browser(app, client, (f"198.51.100.{i}", 40000)) for i in range(5)]
    assert [_login(browser, creds).status_code for browser in browsers[:3]] == [301, 301, 301]
    _refused(_login(browsers[3], creds), "for this client")
    assert _login(browsers[4], other_app).status_code == 301
    assert db_sql(settings, "SELECT count(*) FROM oauth_requests") == [(4,)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_cards_is_limited_per_address(client, creds, settings, monkeypatch):
    tokens = tokens_for(client, creds)
    monkeypatch.setattr(oauth, "STARTS_PER_MINUTE_PER_ADDRESS", 2)
    params = {"client_id": creds.client_id, "access_token": tokens["access_token"], "redirect_url": REDIRECT}
    assert [client.get(SANDBOX + "/cards", params=params, follow_redirects=False).status_code
            for _ in range(2)] == [301, 301]
    _refused(client.get(SANDBOX + "/cards", params=params, follow_redirects=False), "from this address")
    assert db_sql(settings, "SELECT count(*) FROM card_requests") == [(2,)]
