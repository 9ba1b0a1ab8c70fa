"""GET /commercial-establishments without paging parameters (API.md §2): every match, never
cut; more matches than the access profile's page size is a 413 saying how to page."""

from __future__ import annotations

from tests.support.panel import Panel
from tests.support.promo import PAULISTA, SANDBOX, check, place

URL = SANDBOX + "/commercial-establishments"


def partner(client, page_size: str) -> dict:
    panel = Panel(client)
    panel.register("dev@example.com")
    creds = panel.application_with_token(page=page_size, groups=("partner",))
    return {"Client-Id": creds.client_id, "Access-Token": creds.access_token}


def test_without_paging_every_match_is_listed(client, admin):
    """More than the 20 a page used to hold by default, fewer than the profile's page size."""
    headers = partner(client, "100")
    shops = [place(client, admin, *PAULISTA, name=f"Loja {n}") for n in range(25)]
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == shops and response.headers["x-total-count"] == "25"
    assert "link" not in response.headers
    check(response, SANDBOX)


def test_more_matches_than_the_page_size_is_a_413_that_says_to_page(client, admin):
    headers = partner(client, "3")
    shops = [place(client, admin, *PAULISTA, name=f"Loja {n}") for n in range(3)]
    whole = client.get(URL, headers=headers)
    assert whole.status_code == 200 and [e["id"] for e in whole.json()] == shops  # and now in the read cache
    shops.append(place(client, admin, *PAULISTA, name="Loja 3"))
    refused = client.get(URL, headers=headers)
    assert refused.status_code == 413, refused.text
    assert "4 matches" in refused.json() and "'_offset' and '_limit'" in refused.json()
    check(refused, SANDBOX)
    paged = client.get(URL, params={"_offset": "0", "_limit": "3"}, headers=headers)
    assert paged.status_code == 200 and [e["id"] for e in paged.json()] == shops[:3]
    assert paged.headers["x-total-count"] == "4" and 'rel="next"' in paged.headers["link"]
    rest = client.get(URL, params={"_offset": "1"}, headers=headers)  # every match from the offset on
    assert rest.status_code == 200 and [e["id"] for e in rest.json()] == shops[1:]
    filtered = client.get(URL, params={"cnpj": "11.222.333/0001-81", "_offset": "2"}, headers=headers)
    assert filtered.status_code == 200 and len(filtered.json()) == 2

