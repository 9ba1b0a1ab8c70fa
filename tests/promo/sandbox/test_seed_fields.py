"""The sandbox seed gives partners every field of the seed's models to parse: the holders'
gender, phone and devices (API.md §3.2), the promotions' transactionDays, campaignModel and
validityRedemption where their campaign type uses them (API.md §3.5)."""

from __future__ import annotations

import json
from datetime import date

from cielo.config import local_url
from cielo.db import Database
from cielo.promo.sandbox.seed import Seeder
from cielo.security.secrets import secret_box_from_settings
from cielo.security.signing import signing_keys_from_settings
from tests.support.db import db_sql, run
from tests.support.panel import Credentials
from tests.support.promo import PAULISTA, SANDBOX, basic, check, code_of
from tests.support.promo import authorize as authorize_holder


def _seeded(settings, work=lambda seeder: seeder._small(local_url())):
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


def _expected(kind: str, rules: dict, end) -> tuple:
    """What API.md §3.5 says a promotion of the type carries."""
    from datetime import timedelta

    weekdays = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    model = {"A": "RFM", "F": "RFM", "P": "RFM", "X": "RFM", "G": "GENERIC"}.get(kind, "EVENT")
    days = {"E": ",".join(rules.get("dates", [])), "R": ",".join(weekdays[d - 1] for d in rules.get("weekdays", []))}
    return model, days.get(kind), (end + timedelta(days=30)).isoformat() if kind in "AFPX" else None


def test_seeded_promotions_carry_the_fields_their_campaign_type_uses(settings, client):
    document = _seeded(settings)
    headers = {"Client-Id": document["client"]["client_id"], "Access-Token": document["client"]["access_token"]}
    seen = set()
    for promotion in document["promotions"]:
        answer = client.get(f"{SANDBOX}/promotions/{promotion['id']}", headers=headers)
        assert answer.status_code == 200, answer.text
        check(answer, SANDBOX)
        body = answer.json()
        (rules,), = db_sql(settings, f"SELECT rules FROM promotions WHERE id = {promotion['id']}")
        rules = rules if isinstance(rules, dict) else json.loads(rules)
        model, days, validity = _expected(body["campaignType"], rules, date.fromisoformat(body["endDate"]))
        assert body["campaignModel"] == model
        assert body.get("transactionDays") == days and body.get("validityRedemption") == validity
        seen |= {key for key in ("transactionDays", "validityRedemption") if key in body}
    assert seen == {"transactionDays", "validityRedemption"}
    assert "MONDAY,TUESDAY,WEDNESDAY" in {p.get("transactionDays") for p in _listed(client, headers)}


def _listed(client, headers) -> list[dict]:
    found = client.get(f"{SANDBOX}/promotions", headers=headers, params={
        "latitude": PAULISTA[0], "longitude": PAULISTA[1], "radius": 3000, "_offset": 0, "_limit": 100, "type": "R"})
    assert found.status_code == 200, found.text
    return found.json()


def test_the_large_seed_carries_them_too(settings):
    _seeded(settings, lambda seeder: seeder._large(total=3_000, chunk=1_000))
    rows = db_sql(settings, "SELECT campaign_type, rules, end_date, campaign_model, transaction_days, validity_redemption "
                            "FROM promotions")
    assert len(rows) == 300 and {row[0] for row in rows} == set("ABEFGPRXW")
    for kind, rules, end, model, days, validity in rows:
        rules = rules if isinstance(rules, dict) else json.loads(rules)
        end = end if isinstance(end, date) else date.fromisoformat(end)
        validity = validity.isoformat() if isinstance(validity, date) else validity
        assert (model, days, validity) == _expected(kind, rules, end), kind
