"""`cielo sandbox seed`: idempotent, realistic, what API.md §0's JSON document promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from stdnum.br import cnpj, cpf

from cielo.promo.promotions.geo import distance_m
from tests.support.db import db_sql, run
from tests.support.promo import PAULISTA, process


def seed_cli(settings, *args, check: bool = True, **environment: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env.update(environment)
    env["CIELO_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["CIELO_DATABASE_URL"] = settings.database_url
    return subprocess.run([sys.executable, "-m", "cielo", "sandbox", "seed", *args], env=env, capture_output=True,
                          text=True, timeout=300, check=check)


@pytest.mark.slow
def test_seed_is_idempotent_and_complete(settings, client):
    first = json.loads(seed_cli(settings, "--json").stdout)
    counts = db_sql(settings, "SELECT (SELECT COUNT(*) FROM commercial_establishments), (SELECT COUNT(*) FROM promotions), "
                              "(SELECT COUNT(*) FROM holders), (SELECT COUNT(*) FROM cards)")[0]
    second = json.loads(seed_cli(settings, "--json").stdout)
    assert second == first
    assert db_sql(settings, "SELECT (SELECT COUNT(*) FROM commercial_establishments), (SELECT COUNT(*) FROM promotions), "
                            "(SELECT COUNT(*) FROM holders), (SELECT COUNT(*) FROM cards)")[0] == counts
    # months of purchases, judged by the engine: some earn promotions of every campaign type
    (purchases,), = db_sql(settings, "SELECT COUNT(*) FROM transactions")
    assert purchases == first["purchases"] >= 5 * 30
    earned = {row[0] for row in db_sql(settings, "SELECT DISTINCT campaign_type FROM transaction_rewards")}
    assert earned == set("ABEFGPRXW"), earned
    cards = [c["id"] for h in first["holders"] for c in h["cards"]]
    assert len(set(cards)) == 10 and len({c["last4"] for h in first["holders"] for c in h["cards"]}) >= 5

    assert set(first["client"]) == {"client_id", "client_secret", "access_token", "redirect_url"}
    assert first["admin_token"].startswith("cielo_")
    for holder in first["holders"]:
        assert {"id", "cpf", "password", "name", "email", "birthdate"} <= set(holder) and cpf.is_valid(holder["cpf"])
    for establishment in first["commercial_establishments"]:
        document = establishment.get("cnpj") or establishment.get("cpf")
        assert (cnpj if "cnpj" in establishment else cpf).is_valid(document)
    near = [e for e in first["commercial_establishments"]
            if distance_m(*PAULISTA, e["latitude"], e["longitude"]) <= 2000]
    assert len(near) >= 10
    assert {p["campaignType"] for p in first["promotions"]} == set("ABEFGPRXW")

    # The seeded credentials work: promotions near Avenida Paulista.
    headers = {"Client-Id": first["client"]["client_id"], "Access-Token": first["client"]["access_token"]}
    found = client.get("/sandbox/promotions/v1/promotions", headers=headers,
                       params={"latitude": PAULISTA[0], "longitude": PAULISTA[1], "radius": 2000, "_offset": 0, "_limit": 50})
    assert found.status_code == 200 and int(found.headers["x-total-count"]) >= 10
    admin = client.get("/admin/v1/sandbox/partners", headers={"Authorization": f"Bearer {first['admin_token']}"})
    assert admin.status_code == 200 and len(admin.json()) == 3


def test_large_seed_is_clustered_and_bulk_loaded(settings):
    """The bulk path (COPY on PostgreSQL) on a slice of the million: points cluster in cities."""
    from cielo.db import Database
    from cielo.promo.sandbox.seed import Seeder
    from cielo.security.secrets import secret_box_from_settings
    from cielo.security.signing import signing_keys_from_settings

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            seeder = Seeder(db, secret_box_from_settings(settings), signing_keys_from_settings(settings))
            await seeder._large(total=20_000, chunk=5_000)
        finally:
            await db.dispose()

    run(go())
    points = db_sql(settings, "SELECT latitude, longitude FROM commercial_establishments")
    assert len(points) == 20_000
    (promotions, orphans, kinds), = db_sql(settings, """
        SELECT COUNT(*), SUM(CASE WHEN e.id IS NULL THEN 1 ELSE 0 END), COUNT(DISTINCT p.campaign_type)
        FROM promotions p LEFT JOIN commercial_establishments e ON e.id = p.establishment_id""")
    assert promotions == 2_000 and orphans == 0 and kinds == 9
    near = sum(1 for lat, lon in points if distance_m(*PAULISTA, lat, lon) <= 2000)
    assert near >= 200  # thousands at a million: dense near Avenida Paulista
    remote = sum(1 for lat, lon in points if min(distance_m(lat, lon, c[1], c[2]) for c in _cities()) > 50_000)
    assert remote < 200  # and almost nothing far from a city


def _cities():
    from cielo.promo.sandbox.seed import CITIES

    return CITIES


def test_seed_resumes_after_a_failure_in_its_purchases(settings, monkeypatch):
    """The small seed's rows commit with its record; if the purchases then fail, running the
    seed again ingests them (externalIds make that safe) instead of failing on duplicates."""
    from cielo.db import Database
    from cielo.promo.sandbox.seed import Seeder
    from cielo.security.secrets import secret_box_from_settings
    from cielo.security.signing import signing_keys_from_settings

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        seeder = Seeder(db, secret_box_from_settings(settings), signing_keys_from_settings(settings))
        real = Seeder._purchases

        async def broken(self, *args):
            raise RuntimeError("the database went away")

        try:
            monkeypatch.setattr(Seeder, "_purchases", broken)
            with pytest.raises(RuntimeError):
                await seeder.seed()
            monkeypatch.setattr(Seeder, "_purchases", real)
            document, created = await seeder.seed()
            again, created_again = await seeder.seed()
            return document, created, again, created_again
        finally:
            await db.dispose()

    document, created, again, created_again = run(go())
    assert created and not created_again and again == document and document["purchases"] > 0
    assert db_sql(settings, "SELECT COUNT(*) FROM holders")[0][0] == 5
    assert db_sql(settings, "SELECT COUNT(*) FROM transactions")[0][0] == document["purchases"]


@pytest.mark.slow
def test_the_seeded_client_follows_the_public_address(settings, client):
    """The seeded client's redirect URL is the callback page on the address given (or
    CIELO_PUBLIC_URL); seeding again for another address adds that one, and a seed made before
    there was a callback page or a subscribable pair gains both."""
    first = json.loads(seed_cli(settings, "--json", "--public-url", "http://127.0.0.1:8951/").stdout)
    here = "http://127.0.0.1:8951/sandbox/callback"
    assert first["client"]["redirect_url"] == here
    client_id = first["client"]["client_id"]

    def registered() -> list[str]:
        (urls,), = db_sql(settings, f"SELECT redirect_urls FROM applications WHERE client_id = '{client_id}'")
        return json.loads(urls) if isinstance(urls, str) else urls

    assert registered() == [here]
    login = {"client_id": client_id, "name": "Maria Silva", "cpf": "390.533.447-05", "birthdate": "1990-05-17",
             "email": "maria@example.com"}
    assert client.get("/sandbox/promotions/v1/login", params={**login, "redirect_url": here},
                      follow_redirects=False).status_code == 301

    elsewhere = "http://localhost:9000/sandbox/callback"
    moved = json.loads(seed_cli(settings, "--json", CIELO_PUBLIC_URL="http://localhost:9000").stdout)
    assert moved["client"]["redirect_url"] == elsewhere and registered() == [here, elsewhere]
    assert {**moved, "client": first["client"]} == first  # nothing else changed
    assert client.get("/sandbox/promotions/v1/login", params={**login, "redirect_url": elsewhere},
                      follow_redirects=False).status_code == 301

    refused = seed_cli(settings, "--public-url", "ftp://x", check=False)
    assert refused.returncode == 2 and "CIELO_PUBLIC_URL must be an http(s) address" in refused.stderr


def test_an_older_seed_gains_the_callback_and_a_subscribable_pair(settings, client):
    from cielo.db import Database
    from cielo.promo.sandbox.seed import Seeder
    from cielo.security.secrets import secret_box_from_settings
    from cielo.security.signing import signing_keys_from_settings

    async def seeding(step):
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            return await step(Seeder(db, secret_box_from_settings(settings), signing_keys_from_settings(settings)))
        finally:
            await db.dispose()

    document, _ = run(seeding(lambda seeder: seeder.seed(public_url="http://127.0.0.1:8000")))
    # as a seed of before: the old redirect URL, no subscribable pair
    older = {**document, "client": {**document["client"], "redirect_url": "http://localhost:8000/callback"},
             "promotions": [p for p in document["promotions"] if p["id"] != document["subscribable"]["promotion_id"]]}
    del older["subscribable"]
    run(seeding(lambda seeder: seeder._record("small", older)))
    db_sql(settings, "UPDATE applications SET redirect_urls = '[\"http://localhost:8000/callback\"]' "
                     f"WHERE client_id = '{document['client']['client_id']}'")
    again, created = run(seeding(lambda seeder: seeder.seed(public_url="http://127.0.0.1:8000")))
    assert not created and again["client"]["redirect_url"] == "http://127.0.0.1:8000/sandbox/callback"
    pair = again["subscribable"]
    assert pair != document["subscribable"]  # a new one: the first is still there, unsubscribed too
    assert {"id": pair["promotion_id"], "commercial_establishment_id": pair["commercial_establishment_id"],
            "campaignType": "G", "active": True} in again["promotions"]

    # the pair a subscription request accepts, with the seeded client's credentials
    headers = {"Client-Id": again["client"]["client_id"], "Access-Token": again["client"]["access_token"]}
    asked = client.post(f"/sandbox/promotions/v1/commercial-establishments/{pair['commercial_establishment_id']}"
                        "/subscriptions", json={"promotionID": pair["promotion_id"], "action": "S"}, headers=headers)
    assert asked.status_code == 202, asked.text
    assert process(settings) == 1
    verdict = client.get(asked.headers["location"], headers=headers, follow_redirects=True)
    assert verdict.status_code == 200 and verdict.json()["status"]["description"] == "ACCEPTED", verdict.text
