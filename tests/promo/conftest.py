"""Fixtures the Promotions API's tests share."""

from __future__ import annotations

import pytest

from tests.support.promo import PAULISTA, SANDBOX, add_card, partner_app, place, tokens_for


@pytest.fixture
def world(client, admin, settings):
    """A partner app, a signed-in holder (born 1990-05-17) with a card, and an establishment."""
    creds = partner_app(client)
    tokens = tokens_for(client, creds)
    assert add_card(client, creds, tokens).status_code == 303
    holder_headers = {"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]}
    card = client.get(SANDBOX + "/me/cards", params={"_offset": 0, "_limit": 10}, headers=holder_headers).json()[0]
    shop = place(client, admin, *PAULISTA)
    return {"creds": creds, "holder": holder_headers, "card": card["id"], "shop": shop}
