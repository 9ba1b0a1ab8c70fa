"""The Promo access layer across real processes: rate limits shared through Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.panel import Panel
from tests.support.promo import SANDBOX, partner_app, tokens_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_holder_rate_limit_is_shared_by_every_process_through_redis(server_factory, redis_url, backend):
    first = server_factory(extra_env={"CIELO_REDIS_URL": redis_url})
    second = server_factory(extra_env={"CIELO_REDIS_URL": redis_url})
    # Redis keeps sign-in counters between runs: a fresh e-mail per run.
    email = f"dev-{uuid.uuid4().hex[:12]}@example.com"
    with httpx.Client(base_url=first.url, follow_redirects=True) as client:
        creds = partner_app(client, email=email)
        tokens = tokens_for(client, creds)
    # The developer lowers the holder profile to 4 requests per minute.
    with httpx.Client(base_url=first.url, follow_redirects=True) as developer:
        panel = Panel(developer)
        assert panel.sign_in(email).url.path == "/developer/applications"
        saved = panel.post_form(f"/developer/applications/{creds.app_id}",
                                f"/developer/applications/{creds.app_id}/holder-profile",
                                {"requests_per_minute": "4", "max_page_size": "100"})
        assert saved.status_code == 200
    headers = {"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]}
    codes = [httpx.get(server.url + SANDBOX + "/me", headers=headers).status_code
             for server in (first, second, first, second, first, second)]
    assert codes == [200, 200, 200, 200, 429, 429]


def test_serve_processes_the_queue_itself(server_factory, backend):
    """202 → 200 while queued → 303 once the in-process consumer of `cielo serve` has run."""
    import time

    server = server_factory()
    admin = server.cli("admin", "token", "create", "--name", "ops", "--scope", "admin").stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=server.url, follow_redirects=True) as client:
        creds = partner_app(client, email=f"dev-{uuid.uuid4().hex[:12]}@example.com")
    shop = httpx.post(server.url + "/admin/v1/sandbox/commercial-establishments", headers=auth, json={
        "fictitiousName": "Loja", "businessActivityId": 1, "cpf": "390.533.447-05", "latitude": -23.56, "longitude": -46.65})
    promo = httpx.post(server.url + "/admin/v1/sandbox/promotions", headers=auth, json={
        "commercialEstablishmentId": shop.json()["id"], "title": "G", "campaignType": "G", "startDate": "2026-01-01",
        "endDate": "2099-12-31", "premium": "x", "rules": {}})
    partner = {"Client-Id": creds.client_id, "Access-Token": creds.access_token}
    asked = httpx.post(f"{server.url}{SANDBOX}/commercial-establishments/{shop.json()['id']}/subscriptions",
                       json={"promotionID": promo.json()["id"], "action": "S"}, headers=partner)
    assert asked.status_code == 202
    deadline = time.monotonic() + 10
    while True:
        status = httpx.get(server.url + asked.headers["location"], headers=partner)
        if status.status_code == 303:
            break
        assert status.status_code == 200 and time.monotonic() < deadline
        time.sleep(0.05)
    final = httpx.get(server.url + status.headers["location"], headers=partner)
    assert final.json()["status"] == {"id": 1, "description": "ACCEPTED"}
