"""Transactions (API.md §3.2, §3.5, §4): ingestion through the campaign engine on both
databases, every campaign type earning and not earning, cancellation and undo withdrawing
what was earned and recounting, idempotency, batches all or nothing, /me/transactions."""

from __future__ import annotations

import concurrent.futures
import json
import re
import time
from datetime import datetime, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from tests.conftest import db_sql, make_token, run
from tests.promo_helpers import SANDBOX, add_card, check, partner_app, tokens_for
from tests.test_promo_promotions import PAULISTA, RULES, place, promote
from tests.test_promo_subscriptions import ask, process

TX = "/admin/v1/sandbox/transactions"
SUBSCRIBED_SINCE = datetime(2025, 12, 1, tzinfo=timezone.utc)


@pytest.fixture
def admin(settings) -> dict:
    return {"Authorization": f"Bearer {make_token(settings, scope='admin')[1]}"}


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


def backdate(settings, moment: datetime) -> None:
    from sqlalchemy import update

    from cielo.db import Database
    from cielo.promo.subscriptions.models import SubscriptionRequest

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            async with db.write() as session:
                await session.execute(update(SubscriptionRequest).values(processed_at=moment))
        finally:
            await db.dispose()

    run(go())


def seed_holder_with_card(settings) -> tuple[int, int]:
    """Straight into the database (for command-line tests): a holder with the card
    4111 1111 1111 1111, an establishment and a G promotion subscribed since December 2025.
    Returns (card id, establishment id)."""
    from datetime import date

    from cielo.db import Database
    from cielo.promo.cards.models import Card
    from cielo.promo.developer.models import Application, Developer
    from cielo.promo.establishments.models import CommercialEstablishment
    from cielo.promo.holders.models import Holder
    from cielo.promo.promotions.models import Promotion
    from cielo.promo.subscriptions.models import SubscriptionRequest
    from cielo.security.signing import signing_keys_from_settings

    signing = signing_keys_from_settings(settings)

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            async with db.write() as session:
                holder = Holder(environment="sandbox", cpf_fingerprint="f" * 64, cpf_encrypted="x", name="Ana",
                                email="ana@example.com", birthdate=date(1990, 1, 1), gender="FEMALE",
                                phone_area_code=11, phone_number=999999999, password_hash="x")
                shop = CommercialEstablishment(environment="sandbox", document_type="CNPJ", document="11222333000181",
                                               cnpj_root="11222333", fictitious_name="Loja", business_activity_id=5812,
                                               latitude=PAULISTA[0], longitude=PAULISTA[1])
                session.add_all([holder, shop])
                await session.flush()
                card = Card(environment="sandbox", holder_id=holder.id, brand="Visa", last4="1111", pan_length=16,
                            fingerprint=signing.mac("card-number", b"sandbox:4111111111111111"), expiry_month=12,
                            expiry_year=2030, holder_name="ANA", type="CREDIT", status="STRONG")
                promo = Promotion(environment="sandbox", establishment_id=shop.id, title="G", campaign_type="G",
                                  premium="5%", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31), rules={})
                developer = Developer(name="Dev", email="dev@example.com", password_hash="x")
                session.add_all([card, promo, developer])
                await session.flush()
                app = Application(developer_id=developer.id, environment="sandbox", name="App", client_id="sbx_x",
                                  client_secret_digest=b"x" * 32, redirect_urls=["https://app.example.com/cb"])
                session.add(app)
                await session.flush()
                session.add(SubscriptionRequest(environment="sandbox", application_id=app.id, establishment_id=shop.id,
                                                promotion_id=promo.id, action="S", requested_at=SUBSCRIBED_SINCE,
                                                processed_at=SUBSCRIBED_SINCE, status=1))
                return card.id, shop.id
        finally:
            await db.dispose()

    return run(go())


def campaign(client, admin, settings, world, kind, rules=None, **fields) -> int:
    """A promotion of the shop, subscribed (accepted) since December 2025."""
    promo = promote(client, admin, world["shop"], kind, rules=rules if rules is not None else RULES[kind], **fields)
    assert ask(client, world["creds"], world["shop"], promo["id"]).status_code == 202
    assert process(settings) >= 1
    assert db_sql(settings, f"SELECT status FROM subscription_requests WHERE promotion_id = {promo['id']}") == [(1,)]
    backdate(settings, SUBSCRIBED_SINCE)
    return promo["id"]


def buy(client, admin, world, when: str, amount="20.00", **fields):
    body = {"cardId": world["card"], "commercialEstablishmentId": world["shop"], "amount": amount, "occurredAt": when,
            "productPrimary": {"id": 1, "description": "Crédito à vista"}, **fields}
    response = client.post(TX, json=body, headers=admin)
    assert response.status_code in (200, 201), response.text
    return response.json()


def earned(client, admin, transaction_id) -> list[int]:
    body = client.get(f"{TX}/{transaction_id}", headers=admin).json()
    return [r["promotionId"] for r in body["rewards"] if "withdrawnAt" not in r]


# (campaign, rules or None for the default of the promotions tests, [(occurredAt, amount, earns?)])
CASES = {
    "G": (None, [("2026-03-02T12:00:00-03:00", "20.00", True), ("2026-03-03T12:00:00-03:00", "20.00", True)]),
    "W": ({}, [("2026-03-02T12:00:00-03:00", "20.00", True), ("2026-03-03T12:00:00-03:00", "20.00", False)]),
    "P": ({"every": 3}, [(f"2026-03-0{d}T12:00:00-03:00", "20.00", d % 3 == 0) for d in range(1, 8)]),
    "A": (None, [("2026-03-01T12:00:00-03:00", "100.00", False), ("2026-03-05T12:00:00-03:00", "60.00", True),
                 ("2026-03-06T12:00:00-03:00", "100.00", False), ("2026-04-20T12:00:00-03:00", "60.00", False)]),
    "F": (None, [(f"2026-03-0{d}T12:00:00-03:00", "20.00", d == 4) for d in range(1, 6)]),
    "X": (None, [("2026-01-02T12:00:00-03:00", "20.00", False), ("2026-01-12T12:00:00-03:00", "20.00", False),
                 ("2026-03-14T12:00:00-03:00", "20.00", True)]),
    "B": (None, [("2026-05-16T12:00:00-03:00", "20.00", False), ("2026-05-17T09:00:00-03:00", "20.00", True),
                 ("2026-05-24T20:00:00-03:00", "20.00", True), ("2026-05-25T12:00:00-03:00", "20.00", False)]),
    "E": (None, [("2026-12-24T23:30:00-03:00", "20.00", True), ("2026-12-25T00:30:00-03:00", "20.00", False)]),
    "R": (None, [("2026-11-23T12:00:00-03:00", "20.00", True), ("2026-11-23T14:00:00-03:00", "20.00", False),
                 ("2026-11-26T12:00:00-03:00", "20.00", False), ("2026-11-25T11:00:00-03:00", "20.00", True)]),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_each_campaign_type_earns_where_the_contract_says(client, admin, settings, world, kind):
    rules, purchases = CASES[kind]
    promo = campaign(client, admin, settings, world, kind, rules)
    for when, amount, earns in purchases:
        t = buy(client, admin, world, when, amount)
        assert t["containsPromotions"] is earns, (kind, when, t)
        assert earned(client, admin, t["id"]) == ([promo] if earns else [])
        if earns:
            why = client.get(f"{TX}/{t['id']}", headers=admin).json()["rewards"][0]
            assert why["campaignType"] == kind and why["why"] and why["premium"] == "10% off"


def test_min_amount_dates_activity_and_subscription_decide(client, admin, settings, world):
    promo = campaign(client, admin, settings, world, "G", {"minAmount": "50.00"}, startDate="2026-02-01",
                     endDate="2026-12-31")
    assert buy(client, admin, world, "2026-02-10T12:00:00-03:00", "49.99")["containsPromotions"] is False
    assert buy(client, admin, world, "2026-02-10T12:00:00-03:00", "50.00")["containsPromotions"] is True
    assert buy(client, admin, world, "2027-01-01T00:00:01-03:00", "80.00")["containsPromotions"] is False  # after endDate
    assert buy(client, admin, world, "2026-01-31T23:59:59-03:00", "80.00")["containsPromotions"] is False  # before start
    # before the establishment's subscription was accepted, nothing counts
    assert buy(client, admin, world, "2025-11-30T12:00:00-03:00", "80.00")["containsPromotions"] is False
    client.patch(f"/admin/v1/sandbox/promotions/{promo}", json={"active": False}, headers=admin)
    assert buy(client, admin, world, "2026-02-11T12:00:00-03:00", "80.00")["containsPromotions"] is False
    # another establishment, never subscribed: nothing
    other = place(client, admin, *PAULISTA, name="Outra")
    t = buy(client, admin, {**world, "shop": other}, "2026-02-12T12:00:00-03:00", "80.00")
    assert t["containsPromotions"] is False


def test_cancellation_and_undo_withdraw_and_recount(client, admin, settings, world):
    promo = campaign(client, admin, settings, world, "P", {"every": 2})
    ts = [buy(client, admin, world, f"2026-03-0{d}T12:00:00-03:00") for d in range(1, 5)]
    assert [t["containsPromotions"] for t in ts] == [False, True, False, True]
    cancelled = client.post(f"{TX}/{ts[0]['id']}/cancellation", json={}, headers=admin)
    assert cancelled.status_code == 201, cancelled.text
    reversal = cancelled.json()
    assert reversal["kind"] == "cancellation" and reversal["reverses"] == ts[0]["id"]
    assert reversal["containsPromotions"] is False
    # the punches move back: the 2nd purchase is now the 1st, the 3rd the 2nd, the 4th the 3rd
    assert [earned(client, admin, t["id"]) for t in ts] == [[], [], [promo], []]
    second = client.get(f"{TX}/{ts[1]['id']}", headers=admin).json()
    assert second["containsPromotions"] is False
    assert "recounted after transaction" in second["rewards"][0]["withdrawnBecause"]
    # undo the (new) punch winner: what it earned is withdrawn, the 4th earns again
    undone = client.post(f"{TX}/{ts[2]['id']}/undo", content=b"", headers=admin)
    assert undone.status_code == 201 and undone.json()["kind"] == "undo"
    assert [earned(client, admin, t["id"]) for t in ts] == [[], [], [], [promo]]
    withdrawn = client.get(f"{TX}/{ts[2]['id']}", headers=admin).json()["rewards"]
    assert "was undone by transaction" in withdrawn[-1]["withdrawnBecause"]
    # a purchase is reversed once; a reversal is not a purchase
    again = client.post(f"{TX}/{ts[0]['id']}/undo", json={}, headers=admin)
    assert again.status_code == 400 and "already cancelled" in again.json()["detail"]
    assert client.post(f"{TX}/{reversal['id']}/cancellation", json={}, headers=admin).status_code == 400
    early = client.post(f"{TX}/{ts[3]['id']}/cancellation", json={"occurredAt": "2026-03-01T00:00:00Z"}, headers=admin)
    assert early.status_code == 400 and "before" in early.json()["detail"]
    for body, status in (({"when": 1}, 400), ({"occurredAt": "yesterday"}, 400), ([], 400)):
        assert client.post(f"{TX}/{ts[3]['id']}/cancellation", json=body, headers=admin).status_code == status
    assert client.post(f"{TX}/999999/cancellation", json={}, headers=admin).status_code == 404
    # the holder sees the cancelled and the undone purchases with their reversal
    listed = client.get(SANDBOX + "/me/transactions", headers=world["holder"], params={
        "_offset": 0, "_limit": 10, "start_date": "2026-03-01", "end_date": "2026-03-31"})
    assert listed.status_code == 200, listed.text
    check(listed, SANDBOX)
    items = {i["id"]: i for i in listed.json()}
    assert [i["id"] for i in listed.json()] == [t["id"] for t in reversed(ts)]  # newest first
    assert items[ts[0]["id"]]["transactionCancelled"]["id"] == reversal["id"]
    assert items[ts[0]["id"]]["containsPromotions"] is False
    assert items[ts[2]["id"]]["transactionUndone"]["id"] == undone.json()["id"]
    assert items[ts[3]["id"]]["containsPromotions"] is True and "transactionCancelled" not in items[ts[3]["id"]]


def test_a_purchase_at_local_midnight_is_in_its_day(client, admin, settings, world):
    """Every write path stores one datetime format: on SQLite, datetimes are text compared as
    text, and a batch's rows (written by insert_columns) once carried the driver's own format,
    which sorted a purchase at exactly a day's first instant before that instant."""
    campaign(client, admin, settings, world, "G", {})
    at_midnight = buy(client, admin, world, "2026-03-01T00:00:00-03:00")
    before = buy(client, admin, world, "2026-02-28T23:59:59.999999-03:00")
    reversal = client.post(f"{TX}/{before['id']}/cancellation", json={"occurredAt": "2026-03-01T00:00:00-03:00"},
                           headers=admin)
    assert reversal.status_code == 201, reversal.text
    listed = client.get(SANDBOX + "/me/transactions", headers=world["holder"], params={
        "_offset": 0, "_limit": 10, "start_date": "2026-03-01", "end_date": "2026-03-01"})
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()] == [at_midnight["id"]]
    if settings.database_url is None:  # SQLite: the stored text itself
        texts = db_sql(settings, "SELECT occurred_at FROM transactions UNION ALL SELECT created_at FROM transactions "
                                 "UNION ALL SELECT earned_at FROM transaction_rewards")
        assert texts and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", t) for (t,) in texts), texts


def test_a_late_purchase_recounts_the_later_ones(client, admin, settings, world):
    promo = campaign(client, admin, settings, world, "P", {"every": 2})
    a = buy(client, admin, world, "2026-03-02T12:00:00-03:00")
    b = buy(client, admin, world, "2026-03-04T12:00:00-03:00")
    assert b["containsPromotions"] is True
    late = buy(client, admin, world, "2026-03-03T12:00:00-03:00")  # arrives last, happened second
    assert late["containsPromotions"] is True
    assert [earned(client, admin, t["id"]) for t in (a, late, b)] == [[], [promo], []]


def test_external_id_card_number_and_refusals(client, admin, settings, world):
    first = client.post(TX, headers=admin, json={
        "cardNumber": "4111-1111-1111-1111", "commercialEstablishmentId": world["shop"], "amount": 20,
        "occurredAt": "2026-03-02T12:00:00Z", "productPrimary": {"id": 7, "description": "Débito"},
        "productSecondary": {"id": 8, "description": "Gorjeta"}, "externalId": "pos-1"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["cardId"] == world["card"] and body["amount"] == "20.00" and body["externalId"] == "pos-1"
    again = client.post(TX, headers=admin, json={
        "cardId": world["card"], "commercialEstablishmentId": world["shop"], "amount": "99.00",
        "occurredAt": "2026-03-05T12:00:00Z", "productPrimary": {"id": 7, "description": "Débito"}, "externalId": "pos-1"})
    assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["amount"] == "20.00"
    rows = db_sql(settings, "SELECT * FROM transactions")
    assert len(rows) == 1 and not any("4111111111111111" in str(v) for row in rows for v in row)
    good = {"cardId": world["card"], "commercialEstablishmentId": world["shop"], "amount": "1.00",
            "occurredAt": "2026-03-02T12:00:00-03:00", "productPrimary": {"id": 1, "description": "x"}}
    refusals = [
        ({**good, "amount": "1.001"}, 400, "two after the point"), ({**good, "amount": 0}, 400, "greater than zero"),
        ({**good, "amount": 1.005}, 400, "two decimal places"), ({**good, "amount": True}, 400, "decimal string"),
        ({**good, "occurredAt": "2026-03-02T12:00:00"}, 400, "UTC offset"), ({**good, "occurredAt": "x"}, 400, "ISO 8601"),
        ({**good, "cardId": 999999}, 400, "no card 999999"),
        ({**good, "commercialEstablishmentId": 999999}, 400, "no commercial"),
        ({**good, "cardNumber": "4111111111111112", "cardId": None}, 400, "Luhn"),
        ({**good, "cardNumber": "5555555555554444", "cardId": None}, 400, "No card with this number"),
        ({**good, "cardNumber": "4111111111111111"}, 400, "exactly one"), ({**good, "productPrimary": None}, 400, "mandatory"),
        ({**good, "productPrimary": {"id": -1, "description": "x"}}, 400, "productPrimary.id"),
        ({**good, "surprise": 1}, 400, "unknown field"), ({**good, "externalId": ""}, 400, "externalId"),
        ([good], 400, "transaction object"),
    ]
    for body, status, fragment in refusals:
        response = client.post(TX, json=body, headers=admin)
        assert response.status_code == status and fragment.lower() in response.json()["detail"].lower(), (body, response.text)
    assert client.post(TX, content=b"{", headers={**admin, "Content-Type": "application/json"}).status_code == 400
    assert client.post(TX, content=b"a=b", headers={**admin, "Content-Type": "text/plain"}).status_code == 415
    assert client.post(TX, json=good).status_code == 401
    assert db_sql(settings, "SELECT COUNT(*) FROM transactions")[0][0] == 1
    assert client.get(f"{TX}/abc", headers=admin).status_code in (400, 422)
    assert client.get(f"/admin/v1/production/transactions/{first.json()['id']}", headers=admin).status_code == 404
    # the sandbox's card and establishment are unknown in production
    elsewhere = client.post("/admin/v1/production/transactions", json={**good, "externalId": None}, headers=admin)
    assert elsewhere.status_code == 400 and "no card" in elsewhere.json()["detail"].lower(), elsewhere.text
    shop_only = client.post("/admin/v1/production/transactions/batch", headers=admin, json={"transactions": [
        {**good, "externalId": None}]})
    assert shop_only.status_code == 400, shop_only.text
    reasons = [e["reason"] for e in shop_only.json()["errors"]]
    assert any("no card" in r for r in reasons) and any("no commercial establishment" in r for r in reasons), reasons
    assert db_sql(settings, "SELECT COUNT(*) FROM transactions")[0][0] == 1


def test_batches_are_all_or_nothing(client, admin, settings, world):
    campaign(client, admin, settings, world, "P", {"every": 2})
    item = lambda d, **kw: {"cardId": world["card"], "commercialEstablishmentId": world["shop"], "amount": "5.00",  # noqa: E731
                            "occurredAt": f"2026-04-{d:02d}T12:00:00-03:00",
                            "productPrimary": {"id": 1, "description": "x"}, **kw}
    bad = client.post(f"{TX}/batch", headers=admin, json={"transactions": [
        item(1), item(2, amount="-1"), item(3), item(4, cardId=999999)]})
    assert bad.status_code == 400
    assert [e["index"] for e in bad.json()["errors"]] == [1, 3] and "nothing was ingested" in bad.json()["detail"]
    assert db_sql(settings, "SELECT COUNT(*) FROM transactions")[0][0] == 0
    too_many = client.post(f"{TX}/batch", headers=admin, json={"transactions": [item(1)] * 1001})
    assert too_many.status_code == 400 and "at most 1000" in too_many.json()["detail"]
    for body in ({"transactions": []}, {"transactions": {}}, {"items": []}, []):
        assert client.post(f"{TX}/batch", headers=admin, json=body).status_code == 400
    ok = client.post(f"{TX}/batch", headers=admin, json={"transactions": [
        item(d, externalId=f"b-{d}") for d in range(1, 11)] + [item(11, externalId="b-1")]})
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["created"] == 10 and body["transactions"][10]["id"] == body["transactions"][0]["id"]
    assert [t["containsPromotions"] for t in body["transactions"][:10]] == [d % 2 == 0 for d in range(1, 11)]
    # the batch is answered from memory: exactly what reading each transaction back says
    for t in body["transactions"]:
        assert client.get(f"{TX}/{t['id']}", headers=admin).json() == t
    assert db_sql(settings, "SELECT COUNT(*) FROM transactions")[0][0] == 10


def test_me_transactions_paging_dates_and_privacy(client, admin, settings, world):
    ts = [buy(client, admin, world, f"2026-01-{d:02d}T12:00:00-03:00") for d in range(1, 26)]
    base = {"_offset": 0, "_limit": 10, "start_date": "2026-01-01", "end_date": "2026-01-31"}
    page = client.get(SANDBOX + "/me/transactions", headers=world["holder"], params=base)
    assert page.status_code == 200
    check(page, SANDBOX)
    assert page.headers["X-Total-Count"] == "25" and 'rel="next"' in page.headers["Link"]
    assert [i["id"] for i in page.json()] == [t["id"] for t in reversed(ts)][:10]
    item = page.json()[0]
    assert set(item) == {"id", "commercialEstablishment", "productPrimary", "containsPromotions"}
    assert item["commercialEstablishment"] == {"id": world["shop"], "fictitiousName": "Loja", "businessActivity": {"id": 5812}}
    # end_date includes its whole local day; a date-time is an instant
    one_day = client.get(SANDBOX + "/me/transactions", headers=world["holder"],
                         params={**base, "start_date": "2026-01-05", "end_date": "2026-01-05"}).json()
    assert [i["id"] for i in one_day] == [ts[4]["id"]]
    instant = client.get(SANDBOX + "/me/transactions", headers=world["holder"],
                         params={**base, "start_date": "2026-01-05T15:00:00Z", "end_date": "2026-01-06T14:59:59Z"}).json()
    assert [i["id"] for i in instant] == [ts[4]["id"]]
    refusals = [({"start_date": None}, 422), ({"end_date": None}, 422), ({"_limit": None}, 422),
                ({"start_date": "2026-02-01"}, 400), ({"start_date": "2024-01-01"}, 400),
                ({"start_date": "01/01/2026"}, 400), ({"end_date": "2026-13-01"}, 400), ({"_limit": 100000}, 413)]
    for change, status in refusals:
        params = {k: v for k, v in {**base, **change}.items() if v is not None}
        response = client.get(SANDBOX + "/me/transactions", headers=world["holder"], params=params)
        assert response.status_code == status, (change, response.text)
        check(response, SANDBOX)
    widest = client.get(SANDBOX + "/me/transactions", headers=world["holder"], params={**base, "start_date": "2025-01-30"})
    assert widest.status_code == 200  # 366 days
    wide = client.get(SANDBOX + "/me/transactions", headers=world["holder"], params={**base, "start_date": "2025-01-29"})
    assert wide.status_code == 400 and "366 days" in wide.json()  # a 400 of the API is a sentence (API.md §2)
    # another holder sees none of it; the partner's own token is no holder token
    other_tokens = tokens_for(client, world["creds"], cpf="529.982.247-25", email="joao@example.com", name="João")
    other = client.get(SANDBOX + "/me/transactions", params=base,
                       headers={"Client-Id": world["creds"].client_id, "Access-Token": other_tokens["access_token"]})
    assert other.status_code == 200 and other.json() == [] and other.headers["X-Total-Count"] == "0"
    partner = client.get(SANDBOX + "/me/transactions", params=base,
                         headers={"Client-Id": world["creds"].client_id, "Access-Token": world["creds"].access_token})
    assert partner.status_code in (401, 403)


def test_me_transactions_pages_are_the_same_kept_or_walked(client, admin, world, monkeypatch):
    """A period's ids are kept between pages (up to PERIOD_IDS); past that, each page walks the
    index. Both give the same pages, and a purchase ingested meanwhile shows at once."""
    from cielo.promo.transactions import service

    ts = [buy(client, admin, world, f"2026-02-{d:02d}T10:00:00-03:00") for d in range(1, 13)]
    newest_first = [t["id"] for t in reversed(ts)]

    def pages(end="2026-02-28"):
        seen, total = [], set()
        for offset in range(0, 14, 5):
            response = client.get(SANDBOX + "/me/transactions", headers=world["holder"], params={
                "_offset": offset, "_limit": 5, "start_date": "2026-02-01", "end_date": end})
            assert response.status_code == 200, response.text
            seen += [i["id"] for i in response.json()]
            total.add(response.headers["X-Total-Count"])
        return seen, total

    assert pages() == (newest_first, {"12"})  # kept
    late = buy(client, admin, world, "2026-02-20T10:00:00-03:00")  # a commit: the kept ids are stale
    assert pages() == ([late["id"], *newest_first], {"13"})
    monkeypatch.setattr(service, "PERIOD_IDS", 5)  # too long to keep: counted, then walked
    assert pages(end="2026-02-27") == ([late["id"], *newest_first], {"13"})


def test_concurrent_purchases_never_share_a_punch(server_factory):
    """Parallel purchases of one holder at one establishment through a real server (seeded
    sandbox): with P every 2, exactly half of them earn — on PostgreSQL through the
    per-(holder, establishment) lock, on SQLite through its single writer."""
    server = server_factory()
    document = json.loads(server.cli("sandbox", "seed", "--json").stdout)
    admin = {"Authorization": f"Bearer {document['admin_token']}"}
    partner = {"Client-Id": document["client"]["client_id"], "Access-Token": document["client"]["access_token"]}
    card = document["holders"][0]["cards"][0]["id"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        shop = http.post("/admin/v1/sandbox/commercial-establishments", headers=admin, json={
            "fictitiousName": "Café Concorrido", "businessActivityId": 5814, "cnpj": "11.222.333/0001-81",
            "latitude": PAULISTA[0], "longitude": PAULISTA[1]}).json()["id"]
        promo = http.post("/admin/v1/sandbox/promotions", headers=admin, json={
            "commercialEstablishmentId": shop, "title": "Punch", "campaignType": "P", "startDate": "2026-01-01",
            "endDate": "2027-12-31", "premium": "half", "rules": {"every": 2}}).json()["id"]
        queued = http.post(f"{SANDBOX}/commercial-establishments/{shop}/subscriptions", headers=partner,
                           json={"promotionID": promo, "action": "S"})
        assert queued.status_code == 202, queued.text
        deadline = time.monotonic() + 30
        while http.get(queued.headers["location"], headers=partner).status_code != 303:
            assert time.monotonic() < deadline, "the subscription was never processed"
            time.sleep(0.1)

        def one(i: int) -> None:
            response = http.post(TX, headers=admin, json={
                "cardId": card, "commercialEstablishmentId": shop, "amount": "3.00",
                "occurredAt": datetime.now(timezone.utc).isoformat(), "productPrimary": {"id": 1, "description": "x"}})
            assert response.status_code == 201, response.text

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(40)))
        # Requests arrive out of their occurredAt order, so an answer may be recounted by a
        # later one; the final state must be the 2nd, 4th, … purchase in time order.
        stored = http.get(TX, headers=admin, params={"commercialEstablishmentId": shop, "limit": 1000}).json()
    assert len(stored) == 40
    ordered = sorted(stored, key=lambda t: (t["occurredAt"], t["id"]))
    assert [t["containsPromotions"] for t in ordered] == [n % 2 == 0 for n in range(1, 41)]
    assert all(len([r for r in t["rewards"] if "withdrawnAt" not in r]) == (1 if t["containsPromotions"] else 0)
               for t in ordered)


def test_one_external_id_sent_in_parallel_is_stored_once(server_factory):
    """The same externalId arriving at once from several requests (as a retrying terminal
    would send it, and also naming two different cards): one transaction is stored, every
    answer is 201 or 200 with that one, none is a 5xx."""
    server = server_factory()
    document = json.loads(server.cli("sandbox", "seed", "--json").stdout)
    admin = {"Authorization": f"Bearer {document['admin_token']}"}
    cards = [h["cards"][0]["id"] for h in document["holders"][:2]]
    shop = document["commercial_establishments"][0]["id"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        def one(i: int) -> tuple[int, int | None]:
            response = http.post(TX, headers=admin, json={
                "cardId": cards[i % 2], "commercialEstablishmentId": shop, "amount": "3.00", "externalId": "pos-42",
                "occurredAt": "2026-03-02T12:00:00-03:00", "productPrimary": {"id": 1, "description": "x"}})
            return response.status_code, response.json().get("id")

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(16)))
        stored = http.get(TX, headers=admin, params={"commercialEstablishmentId": shop, "limit": 1000}).json()
    assert sorted(status for status, _ in answers) == [200] * 15 + [201], answers
    assert [t["externalId"] for t in stored if t.get("externalId") == "pos-42"] == ["pos-42"]
    assert {row_id for _, row_id in answers} == {t["id"] for t in stored if t.get("externalId") == "pos-42"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
FIELDS = ["cardId", "cardNumber", "commercialEstablishmentId", "amount", "occurredAt", "productPrimary",
          "productSecondary", "externalId"]


def test_no_body_makes_the_back_office_fail(client, admin, settings, world):
    """Any JSON at the ingestion, batch and reversal endpoints: a 4xx with a sentence, never a
    5xx, and nothing stored unless the body was a valid transaction."""
    good = {"cardId": world["card"], "commercialEstablishmentId": world["shop"], "amount": "1.00",
            "occurredAt": "2026-03-02T12:00:00-03:00", "productPrimary": {"id": 1, "description": "x"}}
    first = client.post(TX, json=good, headers=admin).json()["id"]

    @settings_(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8) | json_values,
           st.sampled_from(["", "/batch", f"/{first}/cancellation", f"/{first}/undo"]))
    def probe(body, path):
        if path == "/batch" and isinstance(body, dict):
            body = {"transactions": [body]}
        response = client.post(TX + path, json={**good, **body} if isinstance(body, dict) and not path else body,
                               headers=admin)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json()["detail"]

    probe()


def test_the_engine_reads_histories_through_the_counted_index(settings, backend):
    """The history statement probes ix_transactions_counted on both databases: the partial
    index's condition (models.COUNTED) and the statement's (service._counted) are written apart,
    and a statement the index cannot serve scans the whole table for every batch. On
    PostgreSQL under a generic plan, as a prepared statement is run after its fifth execution
    (the condition must hold without the parameters' values), sequential scans disabled so that
    a tiny table shows whether the index can serve at all."""
    from sqlalchemy.dialects import sqlite

    from cielo.db import Database
    from cielo.db.lists import pairs_values
    from cielo.promo.transactions.service import _history_statement

    db = Database(settings.resolved_database_url, pool_size=1)
    try:
        is_sqlite = backend == "sqlite"
        stmt = _history_statement(is_sqlite)
        values = pairs_values("pairs", [(1, 2), (3, 4)], sqlite=is_sqlite)
        if is_sqlite:
            sql = str(stmt.params(values).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(r) for r in db_sql(settings, "EXPLAIN QUERY PLAN " + sql))
        else:
            compiled = stmt.compile(dialect=db.engine.dialect)
            # the statement prepared as the driver sends it, its parameters given as literals
            given = {**compiled.params, **values}
            arrays = ", ".join("'{" + ",".join(map(str, given[name])) + "}'" if isinstance(given[name], list)
                               else str(int(given[name])) for name in compiled.positiontup)

            async def explain():
                async with db.engine.connect() as conn:
                    raw = (await conn.get_raw_connection()).driver_connection
                    async with raw.transaction():
                        await raw.execute("SET LOCAL enable_seqscan = off")
                        await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                        await raw.execute("PREPARE history AS " + compiled.string)
                        try:
                            return " ".join(str(r) for r in await raw.fetch(f"EXPLAIN EXECUTE history({arrays})"))
                        finally:
                            await raw.execute("DEALLOCATE history")

            plan = run(explain())
        assert "ix_transactions_counted" in plan, plan
    finally:
        run(db.dispose())
