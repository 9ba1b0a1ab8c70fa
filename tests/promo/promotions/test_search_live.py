"""The in-memory search index across real processes: every worker of `cielo serve` answers a
search with what was just written through any other, at once."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.promo import PAULISTA, SANDBOX, partner_app

pytestmark = [pytest.mark.slow]

def test_every_worker_sees_each_write_at_once(server_factory):
    server = server_factory(workers=2)
    admin = server.cli("admin", "token", "create", "--name", "ops", "--scope", "admin").stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=server.url, follow_redirects=True) as client:
        creds = partner_app(client, email=f"dev-{uuid.uuid4().hex[:12]}@example.com")
    partner = {"Client-Id": creds.client_id, "Access-Token": creds.access_token}
    query = {"latitude": PAULISTA[0], "longitude": PAULISTA[1], "radius": 2000, "_offset": 0, "_limit": 100}

    workers: set[str] = set()

    def found_by_every_worker() -> set[tuple]:
        # new connections spread over the workers (the kernel hands accepted sockets out);
        # 16 searches each time, every answer must be the same
        answers = set()
        for _ in range(16):
            with httpx.Client(base_url=server.url) as fresh:
                response = fresh.get(SANDBOX + "/promotions", params=query, headers=partner)
            assert response.status_code == 200, response.text
            workers.add(response.headers["x-request-id"][:16])  # request ids start with a per-process prefix
            answers.add(tuple((p["id"], p["active"], p["title"], p["distance"]) for p in response.json()))
        assert len(answers) == 1, answers
        return answers.pop()

    assert found_by_every_worker() == ()
    with httpx.Client(base_url=server.url, headers=auth) as office:
        shop = office.post("/admin/v1/sandbox/commercial-establishments", json={
            "fictitiousName": "Loja", "businessActivityId": 1, "cpf": "390.533.447-05",
            "latitude": PAULISTA[0], "longitude": PAULISTA[1]}).json()["id"]
        promo = office.post("/admin/v1/sandbox/promotions", json={
            "commercialEstablishmentId": shop, "title": "Primeira", "campaignType": "G", "startDate": "2026-01-01",
            "endDate": "2099-12-31", "premium": "x", "rules": {}}).json()["id"]
        assert found_by_every_worker() == ((promo, True, "Primeira", 0.0),)
        assert office.patch(f"/admin/v1/sandbox/promotions/{promo}", json={"title": "Segunda"}).status_code == 200
        assert found_by_every_worker() == ((promo, True, "Segunda", 0.0),)
        moved = office.patch(f"/admin/v1/sandbox/commercial-establishments/{shop}",
                             json={"latitude": -22.9068, "longitude": -43.1729})
        assert moved.status_code == 200
        assert found_by_every_worker() == ()
    assert len(workers) == 2, workers  # both processes answered
