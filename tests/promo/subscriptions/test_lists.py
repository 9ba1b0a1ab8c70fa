"""The subscription lists (API.md §2, §3.3): the processed list holds the accepted requests
only (a rejected one stays readable by its id), and neither it nor the queue is ever cut
without paging parameters."""

from __future__ import annotations

from tests.support.panel import Panel
from tests.support.promo import PAULISTA, SANDBOX, check, place, process, promote


def partner(client, page_size: str = "100") -> dict:
    panel = Panel(client)
    panel.register("dev@example.com")
    creds = panel.application_with_token(page=page_size, groups=("partner",))
    return {"Client-Id": creds.client_id, "Access-Token": creds.access_token}


def ask(client, headers, shop: int, promotion: int, action: str = "S") -> int:
    response = client.post(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions",
                           json={"promotionID": promotion, "action": action}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_the_processed_list_holds_the_accepted_and_a_rejected_request_is_read_by_id(client, admin, settings):
    headers = partner(client)
    shop = place(client, admin, *PAULISTA)
    live, inactive = promote(client, admin, shop)["id"], promote(client, admin, shop, active=False)["id"]
    accepted, rejected = ask(client, headers, shop, live), ask(client, headers, shop, inactive)
    assert process(settings) == 2
    listed = client.get(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions", headers=headers)
    assert listed.status_code == 200 and listed.headers["x-total-count"] == "1"
    assert [(i["id"], i["status"]["description"]) for i in listed.json()] == [(accepted, "ACCEPTED")]
    check(listed, SANDBOX)
    one = client.get(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions/{rejected}", headers=headers)
    assert one.status_code == 200
    assert one.json()["status"] == {"id": 2, "description": "REJECTED"} and "not active" in one.json()["reason"]
    check(one, SANDBOX)


def test_the_queue_and_the_processed_list_hold_every_match_or_answer_413(client, admin, settings):
    headers = partner(client, "3")
    shop = place(client, admin, *PAULISTA)
    promotions = [promote(client, admin, shop)["id"] for _ in range(4)]
    queued = [ask(client, headers, shop, p) for p in promotions[:3]]
    whole = client.get(SANDBOX + "/subscriptions/queue", headers=headers)
    assert whole.status_code == 200 and [i["id"] for i in whole.json()] == queued  # and now in the read cache
    queued.append(ask(client, headers, shop, promotions[3]))
    refused = client.get(SANDBOX + "/subscriptions/queue", headers=headers)
    assert refused.status_code == 413 and "'_offset' and '_limit'" in refused.json()
    check(refused, SANDBOX)
    paged = client.get(SANDBOX + "/subscriptions/queue", params={"_offset": "2", "_limit": "3"}, headers=headers)
    assert [i["id"] for i in paged.json()] == queued[2:] and paged.headers["x-total-count"] == "4"

    assert process(settings) == 4
    url = f"{SANDBOX}/commercial-establishments/{shop}/subscriptions"
    refused = client.get(url, headers=headers)
    assert refused.status_code == 413 and "4 matches" in refused.json()
    check(refused, SANDBOX)
    rest = client.get(url, params={"_offset": "1"}, headers=headers)
    assert rest.status_code == 200 and [i["id"] for i in rest.json()] == queued[1:]
    assert client.get(SANDBOX + "/subscriptions/queue", headers=headers).json() == []
