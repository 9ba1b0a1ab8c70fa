"""One bad row cannot stop the subscription queue (API.md §3.3): a request whose processing
fails for real — its promotion's dates are past what Python's dates hold (year 20000, a value
both databases store and neither driver can read) — is retried a few times, then set aside as
REJECTED with a reason saying so, visible at its queue address and in the back office, while
every other request of the queue, before and after it, is processed."""

from __future__ import annotations

import time

from cielo.config import Settings
from tests.support.db import db_sql, make_token
from tests.support.promo import PAULISTA, SANDBOX, check, partner_app, place, promote
from tests.support.reference import CheckedClient

ATTEMPTS = 3


def consumer(settings: Settings) -> CheckedClient:
    """The app with its queue consumer running (as in `cielo serve`), quick to give up."""
    from cielo.app import create_app

    changed = settings.model_copy(update={"queue_consumer": True, "queue_max_attempts": ATTEMPTS,
                                          "queue_retry_seconds": 0.05})
    return CheckedClient(create_app(changed), raise_server_exceptions=False)


def test_a_request_that_keeps_failing_is_set_aside_and_the_queue_goes_on(client, settings):
    admin = {"Authorization": f"Bearer {make_token(settings, scope='admin')[1]}"}
    creds = partner_app(client)
    partner = {"Client-Id": creds.client_id, "Access-Token": creds.access_token}
    shops = [place(client, admin, *PAULISTA, name=f"Loja {i}") for i in range(4)]
    good = promote(client, admin, shops[0], "G", endDate="2999-12-31")["id"]
    bad = promote(client, admin, shops[0], "W", endDate="2999-12-31")["id"]

    def ask(shop: int, promotion: int) -> int:
        response = client.post(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions",
                               json={"promotionID": promotion, "action": "S"}, headers=partner)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    before = [ask(shop, good) for shop in shops[:2]]
    poisoned = ask(shops[0], bad)
    after = [ask(shop, good) for shop in shops[2:]]
    db_sql(settings, f"UPDATE promotions SET start_date = '20000-01-01', end_date = '20000-12-31' WHERE id = {bad}")

    with consumer(settings) as client:
        _until_processed(settings)
        _the_others_accepted_the_bad_one_set_aside(client, admin, partner, settings, before + after, poisoned, bad)


def _until_processed(settings) -> None:
    deadline = time.monotonic() + 20
    while db_sql(settings, "SELECT COUNT(*) FROM subscription_requests WHERE processed_at IS NULL")[0][0]:
        assert time.monotonic() < deadline, db_sql(settings, "SELECT id, attempts, failure FROM subscription_requests")
        time.sleep(0.05)


def _the_others_accepted_the_bad_one_set_aside(client, admin, partner, settings, others, poisoned, bad) -> None:
    for request_id in others:
        where = client.get(f"{SANDBOX}/subscriptions/{request_id}/queue", headers=partner, follow_redirects=False)
        assert where.status_code == 303
        verdict = client.get(where.headers["location"], headers=partner)
        assert verdict.json()["status"] == {"id": 1, "description": "ACCEPTED"}, verdict.text

    where = client.get(f"{SANDBOX}/subscriptions/{poisoned}/queue", headers=partner, follow_redirects=False)
    assert where.status_code == 303
    check(where, SANDBOX)
    verdict = client.get(where.headers["location"], headers=partner)
    assert verdict.status_code == 200
    check(verdict, SANDBOX)
    body = verdict.json()
    assert body["status"] == {"id": 2, "description": "REJECTED"}
    assert f"({ATTEMPTS} attempts failed)" in body["reason"] and "PATCH" in body["reason"]

    seen = client.get(f"/admin/v1/sandbox/subscription-requests/{poisoned}", headers=admin).json()
    assert seen["state"] == "FAILED" and seen["attempts"] == ATTEMPTS and seen["reason"] == body["reason"]
    assert seen["failure"].startswith("ValueError: ") and "20000" in seen["failure"]
    failed = client.get("/admin/v1/sandbox/subscription-requests", params={"state": "FAILED"}, headers=admin).json()
    assert [r["id"] for r in failed] == [poisoned]
    # set aside exactly once; every other request processed once, and accepted
    audits = dict(db_sql(settings, "SELECT resource_key, COUNT(*) FROM audit_log WHERE operation = 'process' "
                                   "GROUP BY resource_key"))
    assert audits == {str(i): 1 for i in [*others, poisoned]}

    # corrected and sent again, it is processed like any other
    db_sql(settings, f"UPDATE promotions SET start_date = '2026-01-01', end_date = '2999-12-31' WHERE id = {bad}")
    again = client.patch(f"{SANDBOX}/subscriptions/{poisoned}", json={"promotionID": bad, "action": "S"},
                         headers=partner)
    assert again.status_code == 204
    deadline = time.monotonic() + 20
    while client.get(f"{SANDBOX}/subscriptions/{poisoned}/queue", headers=partner,
                     follow_redirects=False).status_code != 303:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    seen = client.get(f"/admin/v1/sandbox/subscription-requests/{poisoned}", headers=admin).json()
    assert seen["state"] == "ACCEPTED" and seen["failure"] is None and seen["attempts"] == 0
