"""Who is calling the Promotions API (promo/access.py): refusals that say what to send instead
(API.md §2) when a token of the wrong kind comes, or comes in the wrong header."""

from __future__ import annotations

from tests.support.promo import SANDBOX, check, partner_app, tokens_for

PARTNER_ROUTES = ("/commercial-establishments", "/subscriptions/queue")
HOLDER_ROUTES = ("/me", "/me/cards?_offset=0&_limit=5")


def test_a_token_of_the_other_kind_is_a_401_naming_the_kind_the_route_takes(client):
    creds = partner_app(client)
    holder = tokens_for(client, creds)
    for path in HOLDER_ROUTES:
        response = client.get(SANDBOX + path, headers={"Client-Id": creds.client_id, "Access-Token": creds.access_token})
        assert response.status_code == 401 and "takes a holder's Access-Token" in response.json(), path
        check(response, SANDBOX)
    cards = client.get(SANDBOX + "/cards", params={"client_id": creds.client_id, "access_token": creds.access_token,
                                                   "redirect_url": "https://app.example.com/callback"},
                       follow_redirects=False)
    assert cards.status_code == 401 and "takes a holder's Access-Token" in cards.json()
    for token in (holder["access_token"], holder["refresh_token"]):
        for path in PARTNER_ROUTES:
            response = client.get(SANDBOX + path, headers={"Client-Id": creds.client_id, "Access-Token": token})
            assert response.status_code == 401 and "takes a partner Access-Token" in response.json(), path
            check(response, SANDBOX)


def test_a_bearer_token_is_a_401_saying_it_goes_in_access_token(client):
    creds = partner_app(client)
    holder = tokens_for(client, creds)
    for path, token in ((PARTNER_ROUTES[0], creds.access_token), (HOLDER_ROUTES[0], holder["access_token"])):
        response = client.get(SANDBOX + path, headers={"Client-Id": creds.client_id, "Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and "'Access-Token' header" in response.json()
        assert "Bearer" in response.json()
        check(response, SANDBOX)
        assert client.get(SANDBOX + path, headers={"Client-Id": creds.client_id, "Access-Token": token}).status_code == 200
