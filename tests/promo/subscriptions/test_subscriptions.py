"""Subscriptions (API.md §3.3): 202 → queue → 303, the processing rules, the refusals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support.db import db_sql
from tests.support.promo import PAULISTA, PRODUCTION, SANDBOX, ask, check, headers, partner_app, place, process, promote


def test_subscribe_queue_process_and_read(client, creds, admin, settings):
    shop = place(client, admin, *PAULISTA)
    promo = promote(client, admin, shop, "G")
    response = ask(client, creds, shop, promo["id"])
    assert response.status_code == 202
    check(response, SANDBOX)
    location = response.headers["location"]
    request_id = response.json()["id"]
    assert location == f"{SANDBOX}/subscriptions/{request_id}/queue"
    queue = client.get(SANDBOX + "/subscriptions/queue", headers=headers(creds))
    assert [i["id"] for i in queue.json()] == [request_id] and queue.headers["x-total-count"] == "1"
    check(queue, SANDBOX)
    waiting = client.get(location, headers=headers(creds))
    assert waiting.status_code == 200 and waiting.json()["action"] == "S"
    check(waiting, SANDBOX)

    assert process(settings) == 1
    done = client.get(location, headers=headers(creds), follow_redirects=False)
    assert done.status_code == 303
    target = done.headers["location"]
    assert target == f"{SANDBOX}/commercial-establishments/{shop}/subscriptions/{request_id}"
    processed = client.get(target, headers=headers(creds))
    assert processed.status_code == 200
    check(processed, SANDBOX)
    body = processed.json()
    assert body["status"] == {"id": 1, "description": "ACCEPTED"} and "reason" not in body
    assert body["promotionId"] == promo["id"] and body["subscriptionDate"] and body["processingDate"]
    assert client.get(SANDBOX + "/subscriptions/queue", headers=headers(creds)).json() == []
    listed = client.get(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions", headers=headers(creds))
    assert [i["id"] for i in listed.json()] == [request_id]
    check(listed, SANDBOX)


def test_processing_rules(client, creds, admin, settings):
    shop = place(client, admin, *PAULISTA)
    today = date.today()
    live = promote(client, admin, shop, "G")["id"]
    inactive = promote(client, admin, shop, "G", active=False)["id"]
    ended = promote(client, admin, shop, "G", startDate="2020-01-01", endDate=(today - timedelta(days=2)).isoformat())["id"]
    future = promote(client, admin, shop, "G", startDate=(today + timedelta(days=30)).isoformat(),
                     endDate=(today + timedelta(days=60)).isoformat())["id"]
    asks = [(live, "S"), (live, "S"), (inactive, "S"), (ended, "S"), (future, "S"), (live, "U"), (live, "U")]
    ids = [ask(client, creds, shop, p, a).json()["id"] for p, a in asks]
    assert process(settings) == len(asks)
    results = {i: client.get(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions/{i}",
                             headers=headers(creds)).json() for i in ids}
    verdicts = [(results[i]["status"]["description"], results[i].get("reason", "")) for i in ids]
    assert verdicts[0] == ("ACCEPTED", "")
    assert verdicts[1][0] == "REJECTED" and "already subscribed" in verdicts[1][1]
    assert verdicts[2][0] == "REJECTED" and "not active" in verdicts[2][1]
    assert verdicts[3][0] == "REJECTED" and "ended" in verdicts[3][1]
    assert verdicts[4] == ("ACCEPTED", "")  # may be subscribed before it starts
    assert verdicts[5] == ("ACCEPTED", "")
    assert verdicts[6][0] == "REJECTED" and "not subscribed" in verdicts[6][1]
    assert db_sql(settings, f"SELECT subscribed FROM establishment_subscriptions WHERE promotion_id = {live}")[0][0] in (False, 0)


def test_patch_requeues(client, creds, admin, settings):
    shop = place(client, admin, *PAULISTA)
    promo = promote(client, admin, shop, "G")["id"]
    request_id = ask(client, creds, shop, promo, "U").json()["id"]
    process(settings)
    patched = client.patch(f"{SANDBOX}/subscriptions/{request_id}", json={"promotionID": promo, "action": "S"},
                           headers=headers(creds))
    assert patched.status_code == 204
    check(patched, SANDBOX)
    again = client.get(f"{SANDBOX}/subscriptions/{request_id}/queue", headers=headers(creds))
    assert again.status_code == 200 and again.json()["action"] == "S"
    process(settings)
    final = client.get(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions/{request_id}", headers=headers(creds))
    assert final.json()["status"]["description"] == "ACCEPTED"


@pytest.mark.parametrize(
    "body,status",
    [
        ({"action": "S"}, 422),
        ({"promotionID": 1}, 422),
        ({"promotionID": "1", "action": "S"}, 400),
        ({"promotionID": 1, "action": "X"}, 400),
        ({"promotionID": 1, "action": "S", "extra": True}, 400),
        ({"promotionID": 999999, "action": "S"}, 400),
        ({"promotionID": 9223372036854775806, "action": "S"}, 400),
        (b"not json", 400),
        (b"[1]", 400),
    ],
)
def test_refused_at_the_post_and_never_queued(client, creds, admin, settings, body, status):
    shop = place(client, admin, *PAULISTA)
    promote(client, admin, shop, "G")
    url = f"{SANDBOX}/commercial-establishments/{shop}/subscriptions"
    if isinstance(body, bytes):
        response = client.post(url, content=body, headers={**headers(creds), "Content-Type": "application/json"})
    else:
        response = client.post(url, json=body, headers=headers(creds))
    assert response.status_code == status
    check(response, SANDBOX)
    assert db_sql(settings, "SELECT COUNT(*) FROM subscription_requests")[0][0] == 0


def test_tenancy_and_media_type(client, creds, admin, settings):
    shop = place(client, admin, *PAULISTA)
    promo = promote(client, admin, shop, "G")["id"]
    assert ask(client, creds, 999999, promo).status_code == 404
    assert ask(client, creds, 3290249063, promo).status_code == 404
    assert client.get(f"{SANDBOX}/subscriptions/2886215323/queue", headers=headers(creds)).status_code == 404
    text = client.post(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions", content=b"promotionID=1",
                       headers={**headers(creds), "Content-Type": "text/plain"})
    assert text.status_code == 415
    prod = partner_app(client, environment="production", email="prod@example.com")
    prod_shop = place(client, admin, *PAULISTA, env="production")
    prod_promo = promote(client, admin, prod_shop, "G", env="production")["id"]
    forbidden = ask(client, prod, prod_shop, prod_promo, base=PRODUCTION)
    assert forbidden.status_code == 403  # not granted to its partner
    check(forbidden, PRODUCTION)
    assert ask(client, prod, shop, promo, base=PRODUCTION).status_code == 403  # a sandbox establishment
    other = partner_app(client, email="other@example.com")
    request_id = ask(client, creds, shop, promo).json()["id"]
    assert client.get(f"{SANDBOX}/subscriptions/{request_id}/queue", headers=headers(other)).status_code == 404
    assert client.patch(f"{SANDBOX}/subscriptions/{request_id}", json={"promotionID": promo, "action": "U"},
                        headers=headers(other)).status_code == 404
    assert client.get(SANDBOX + "/subscriptions/queue", headers=headers(other)).json() == []
    assert db_sql(settings, "SELECT COUNT(*) FROM subscription_requests")[0][0] == 1


def test_bodies_over_the_profile_limit(client, admin):
    from tests.support.panel import Panel

    panel = Panel(client)
    panel.register("dev@example.com")
    small = panel.application_with_token(body="256", groups=("partner",))
    shop = place(client, admin, *PAULISTA)
    promo = promote(client, admin, shop, "G")["id"]
    padded = b'{"promotionID": %d, "action": "S"' % promo + b" " * 300 + b"}"
    response = client.post(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions", content=padded,
                           headers={**headers(small), "Content-Type": "application/json"})
    assert response.status_code == 413 and "256 bytes" in response.json()
    check(response, SANDBOX)
