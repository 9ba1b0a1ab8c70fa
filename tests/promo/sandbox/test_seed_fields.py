"""The sandbox seed gives partners every field of the seed's models to parse: the holders'
gender, phone and devices (API.md §3.2), the promotions' transactionDays, campaignModel and
validityRedemption where their campaign type uses them (API.md §3.5)."""

from __future__ import annotations

from cielo.db import Database
from cielo.promo.sandbox.seed import Seeder
from cielo.security.secrets import secret_box_from_settings
from cielo.security.signing import signing_keys_from_settings
from tests.support.db import run
from tests.support.panel import Credentials
from tests.support.promo import SANDBOX, basic, check, code_of
from tests.support.promo import authorize as authorize_holder


def _seeded(settings, work=lambda seeder: seeder._small()):
    """The small seed's rows (without months of purchases, which these tests do not need)."""

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            return await work(Seeder(db, secret_box_from_settings(settings), signing_keys_from_settings(settings)))
        finally:
            await db.dispose()

    return run(go())


def test_seeded_holders_have_every_field_of_me(settings, client):
    document = _seeded(settings)
    seeded = document["client"]
    creds = Credentials(0, seeded["client_id"], seeded["client_secret"], seeded["access_token"])
    kinds = set()
    for holder in document["holders"]:
        client.cookies.clear()
        landed = authorize_holder(client, creds, password=holder["password"], redirect_url=seeded["redirect_url"],
                                  name=holder["name"], cpf=holder["cpf"], birthdate=holder["birthdate"],
                                  email=holder["email"])
        pair = client.post(SANDBOX + "/access-token", headers=basic(creds),
                           json={"grant_type": "authorization_code", "code": code_of(landed)})
        me = client.get(SANDBOX + "/me", headers={"Client-Id": creds.client_id, "Access-Token": pair.json()["access_token"]})
        assert me.status_code == 200, me.text
        check(me, SANDBOX)
        body = me.json()
        assert set(body) == {"id", "birthdate", "document", "email", "gender", "name", "phone", "devices"}
        assert body["gender"] in ("FEMALE", "MALE") and body["phone"]["areaCode"] == 11 and body["devices"]
        kinds |= {d["type"] for d in body["devices"]}
    assert kinds == {"ANDROID", "IOS"}
