"""API.md §3.1: the card page is the browser's that opened /cards. Another browser holding
only the page's address, with a CSRF token of its own, gets an error page: never the form nor
a card registered in the holder's account."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.support.db import db_sql
from tests.support.panel import csrf_of
from tests.support.promo import NEXT_YEAR, REDIRECT, SANDBOX, another_browser, tokens_for


def test_the_card_page_refuses_another_browser(app, client, creds, settings):
    tokens = tokens_for(client, creds)
    opened = client.get(SANDBOX + "/cards", params={"client_id": creds.client_id, "access_token": tokens["access_token"],
                                                    "redirect_url": REDIRECT}, follow_redirects=False)
    assert opened.status_code == 301
    assert "samesite=lax" in opened.headers["set-cookie"].lower()
    location = opened.headers["location"]
    request_id = parse_qs(urlsplit(location).query)["request"][0]

    other = another_browser(app, client)
    csrf = csrf_of(other.get("/developer/sign-in").text)
    card = {"csrf_token": csrf, "request": request_id, "card_number": "4111 1111 1111 1111", "expiry_month": "12",
            "expiry_year": NEXT_YEAR, "cvv": "123", "holder_name": "MALLORY", "type": "CREDIT"}
    for refused in (other.get(location), other.post(SANDBOX + "/oauth/cards", data=card, follow_redirects=False)):
        assert refused.status_code == 403, refused.text
        assert "location" not in refused.headers and "started in another browser" in refused.text
        assert 'name="card_number"' not in refused.text
    assert db_sql(settings, "SELECT count(*) FROM cards") == [(0,)]

    page = client.get(location)
    added = client.post(SANDBOX + "/oauth/cards", data={**card, "csrf_token": csrf_of(page.text),
                                                        "holder_name": "MARIA SILVA"}, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"].startswith(REDIRECT + "?card_id=")
