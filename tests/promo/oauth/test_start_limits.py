"""API.md §3.1: GET /login (no credential but a public Client ID) and GET /cards each write a row,
so each is limited per address and, ten times higher, per client: past either, 429 with
Retry-After, and nothing written. (CIELO_FLOW_STARTS_PER_MINUTE is lowered here from 300.)"""

from __future__ import annotations

import time

import pytest

from cielo.app import create_app
from tests.conftest import CheckedClient
from tests.support.db import db_sql
from tests.support.promo import REDIRECT, SANDBOX, another_browser, login_params, partner_app, tokens_for


@pytest.fixture
def limited(settings):
    """A service accepting 3 starts a minute from one address, 30 for one client. Begun well
    inside a minute: the limits are sliding-window counters, which weigh the previous minute's
    calls by the part of it still covered, so calls made just before a minute turns count a
    little less just after it (the fourth call at 60.1 s weighs 2.99 + 1: let through)."""
    into_minute = time.time() % 60
    if into_minute > 45:
        time.sleep(60.5 - into_minute)
    app = create_app(settings.model_copy(update={"flow_starts_per_minute": 3}))
    with CheckedClient(app, raise_server_exceptions=False) as client:
        yield app, client


def _login(browser, creds):
    return browser.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)


def _refused(response, whose: str) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1 and "location" not in response.headers
    assert whose in response.json()


def test_login_is_limited_per_address(limited, settings):
    app, client = limited
    creds, other_app = partner_app(client), partner_app(client, email="other@example.com")
    assert [_login(client, c).status_code for c in (creds, other_app, creds)] == [301, 301, 301]
    _refused(_login(client, other_app), "from this address")
    assert db_sql(settings, "SELECT count(*) FROM oauth_requests") == [(3,)]
    assert _login(another_browser(app, client, ("203.0.113.9", 40000)), creds).status_code == 301


def test_login_is_limited_per_client(limited, settings):
    app, client = limited
    creds, other_app = partner_app(client), partner_app(client, email="other@example.com")
    browsers = [another_browser(app, client, (f"198.51.100.{i}", 40000)) for i in range(11)]
    for browser in browsers[:10]:
        assert [_login(browser, creds).status_code for _ in range(3)] == [301, 301, 301]
    _refused(_login(browsers[10], creds), "for this client")
    assert _login(browsers[10], other_app).status_code == 301
    assert db_sql(settings, "SELECT count(*) FROM oauth_requests") == [(31,)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_cards_is_limited_per_address(limited, settings):
    _, client = limited
    creds = partner_app(client)
    tokens = tokens_for(client, creds)  # (one /login)
    params = {"client_id": creds.client_id, "access_token": tokens["access_token"], "redirect_url": REDIRECT}
    assert [client.get(SANDBOX + "/cards", params=params, follow_redirects=False).status_code
            for _ in range(3)] == [301, 301, 301]
    _refused(client.get(SANDBOX + "/cards", params=params, follow_redirects=False), "from this address")
    assert db_sql(settings, "SELECT count(*) FROM card_requests") == [(3,)]
