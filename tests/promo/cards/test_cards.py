"""Card registration (API.md §3.1 /cards), /me/cards and the partners of the back office."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.db import db_sql, make_token
from tests.support.promo import REDIRECT, SANDBOX, add_card, card_page, check, partner_app, tokens_for


@pytest.fixture
def holder(client):
    creds = partner_app(client)
    tokens = tokens_for(client, creds)
    return creds, tokens


def create_partner(client, admin, env="sandbox", **fields):
    body = {"name": "Livelo", "description": "Points program", "term": "https://livelo.example.com/terms",
            "associationType": "AUTOMATIC", **fields}
    response = client.post(f"/admin/v1/{env}/partners", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def me_cards(client, creds, tokens, **params):
    query = {"_offset": "0", "_limit": "10", **params}
    return client.get(SANDBOX + "/me/cards", params={k: v for k, v in query.items() if v is not None},
                      headers={"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]})


def test_card_page_form(client, holder, admin):
    creds, tokens = holder
    livelo = create_partner(client, admin)
    page = card_page(client, creds, tokens)
    for name, autocomplete in [("card_number", "cc-number"), ("expiry_month", "cc-exp-month"),
                               ("expiry_year", "cc-exp-year"), ("cvv", "cc-csc"), ("holder_name", "cc-name")]:
        assert re.search(rf'name="{name}"[^>]*autocomplete="{autocomplete}"', page.text), name
    assert 'name="nickname"' in page.text and 'name="type"' in page.text
    assert f'name="partner" value="{livelo["id"]}"' in page.text


@pytest.mark.parametrize(
    "params,status",
    [
        ({"client_id": None}, 401),
        ({"access_token": None}, 401),
        ({"access_token": "chold_bad"}, 401),
        ({"redirect_url": None}, 422),
        ({"redirect_url": "https://evil.example.com/cb"}, 400),
    ],
)
def test_cards_redirect_refusals(client, holder, params, status):
    creds, tokens = holder
    query = {"client_id": creds.client_id, "access_token": tokens["access_token"], "redirect_url": REDIRECT, **params}
    response = client.get(SANDBOX + "/cards", params={k: v for k, v in query.items() if v is not None},
                          follow_redirects=False)
    assert response.status_code == status and "location" not in response.headers
    check(response, SANDBOX)


def test_register_cards_and_read_them(client, holder, admin, settings):
    creds, tokens = holder
    automatic = create_partner(client, admin, name="Livelo")
    manual = create_partner(client, admin, name="Smiles", associationType="MANUAL")
    response = add_card(client, creds, tokens, nickname="Nubank", partner=[str(automatic["id"]), str(manual["id"])])
    assert response.status_code == 303
    target = response.headers["location"]
    assert target.startswith(REDIRECT + "?card_id=")
    card_id = int(parse_qs(urlsplit(target).query)["card_id"][0])
    assert add_card(client, creds, tokens, card_number="6362970000457013", cvv="000", type="DEBIT").status_code == 303
    assert add_card(client, creds, tokens, card_number="378282246310005", cvv="1234", type="MULTIPLE").status_code == 303

    flat = str(db_sql(settings, "SELECT * FROM cards"))
    for number in ("4111111111111111", "6362970000457013", "378282246310005"):
        assert number not in flat

    listed = me_cards(client, creds, tokens)
    assert listed.status_code == 200 and listed.headers["x-total-count"] == "3"
    check(listed, SANDBOX)
    cards = listed.json()
    assert cards[0] == {"id": card_id, "brand": "Visa", "maskedPan": "************1111", "type": "CREDIT",
                        "status": "STRONG", "nickname": "Nubank"}
    assert cards[1]["brand"] == "Elo" and cards[1]["status"] == "WEAK" and "nickname" not in cards[1]
    assert cards[2]["brand"] == "Amex" and cards[2]["maskedPan"] == "***********0005"

    expanded = me_cards(client, creds, tokens, _expand="partners").json()
    assert [(p["name"], p["associationType"], p["statusAssociation"]) for p in expanded[0]["partners"]] == [
        ("Livelo", "AUTOMATIC", True), ("Smiles", "MANUAL", False)]
    assert expanded[1]["partners"] == []

    one = client.get(f"{SANDBOX}/me/cards/{card_id}", params={"_expand": "partners"},
                     headers={"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]})
    assert one.status_code == 200 and one.json()["partners"][0]["term"] == "https://livelo.example.com/terms"
    check(one, SANDBOX)


def test_card_numbers_are_never_stored(client, holder, settings):
    creds, tokens = holder
    assert add_card(client, creds, tokens, card_number="5555555555554444", cvv="987").status_code == 303
    (row,) = db_sql(settings, "SELECT brand, last4, pan_length, fingerprint FROM cards")
    assert row[:3] == ("Mastercard", "4444", 16) and "5555555555554444" not in row[3]
    dump = str(db_sql(settings, "SELECT * FROM cards")) + str(db_sql(settings, "SELECT * FROM card_requests"))
    assert "5555555555554444" not in dump
    # Nowhere to keep a security code: the card's stored values are exactly these.
    (row,) = db_sql(settings, "SELECT * FROM cards")
    assert len(row) == 15


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"card_number": "4111111111111112"}, "check digit"),
        ({"card_number": "12345"}, "12 to 19 digits"),
        ({"card_number": "9999999999999995"}, "brand is not accepted"),
        ({"expiry_month": "13"}, "valid expiry"),
        ({"expiry_year": "2001"}, "expired"),
        ({"cvv": "12"}, "security code"),
        ({"card_number": "378282246310005", "cvv": "123"}, "4 digits"),
        ({"holder_name": " "}, "name printed"),
        ({"type": "PREPAID"}, "card type"),
        ({"nickname": "n" * 51}, "at most 50"),
        ({"partner": "999"}, "among those listed"),
        ({"csrf_token": "forged"}, "expired or did not come"),
    ],
)
def test_card_refusals_store_nothing(client, holder, settings, fields, message):
    creds, tokens = holder
    response = add_card(client, creds, tokens, **fields)
    assert response.status_code in (400, 403) and message in response.text
    assert db_sql(settings, "SELECT COUNT(*) FROM cards")[0][0] == 0


def test_a_refused_card_page_keeps_what_was_typed_but_the_number_and_the_cvv(client, holder, admin):
    creds, tokens = holder
    livelo, smiles = create_partner(client, admin), create_partner(client, admin, name="Smiles")
    typed = {"card_number": "4111 1111 1111 1112", "cvv": "987", "expiry_month": "07", "expiry_year": "2031",
             "holder_name": "MARIA S SILVA", "nickname": "Viagens", "type": "MULTIPLE", "partner": [str(smiles["id"])]}
    refused = add_card(client, creds, tokens, **typed)
    assert refused.status_code == 400 and "check digit" in refused.text
    page = refused.text
    for name in ("expiry_month", "expiry_year", "holder_name", "nickname"):
        assert re.search(rf'name="{name}"[^>]*value="{typed[name]}"', page), name
    assert '<option value="MULTIPLE" selected>' in page and '<option value="CREDIT" selected>' not in page
    assert f'value="{smiles["id"]}" checked>' in page and f'value="{livelo["id"]}">' in page
    # the number in any spelling, the code in any field (not the bare "987", which a random
    # token or request id on the page may contain)
    assert not re.search(r"4111\D?1111\D?1111\D?1112", page) and not re.search(r'value="\s*987\s*"', page)
    assert 'name="card_number" type="text"' in page and not re.search(r'name="(card_number|cvv)"[^>]*value=', page)
    # the page as first shown has nothing typed
    fresh = card_page(client, creds, tokens).text
    assert not re.search(r'name="(expiry_month|holder_name)"[^>]*value="[^"]', fresh) and "\" checked>" not in fresh


def test_a_card_once_per_holder_and_a_link_once(client, holder):
    creds, tokens = holder
    assert add_card(client, creds, tokens).status_code == 303
    again = add_card(client, creds, tokens)
    assert again.status_code == 400 and "already registered" in again.text


def test_me_cards_paging_and_parameters(client, holder):
    creds, tokens = holder
    for number in ("4111111111111111", "5555555555554444", "6362970000457013"):
        assert add_card(client, creds, tokens, card_number=number, cvv="321").status_code == 303
    page = me_cards(client, creds, tokens, _offset="1", _limit="1")
    assert [c["maskedPan"][-4:] for c in page.json()] == ["4444"]
    link = page.headers["link"]
    assert 'rel="next"' in link and "_offset=2" in link and 'rel="prev"' in link and "_offset=0" in link
    for params, status in [({"_offset": None}, 422), ({"_limit": None}, 422), ({"_limit": "0"}, 400),
                           ({"_offset": "-1"}, 400), ({"_limit": "abc"}, 400), ({"_limit": "101"}, 413),
                           ({"_expand": "holders"}, 400)]:
        response = me_cards(client, creds, tokens, **params)
        assert response.status_code == status, params
        check(response, SANDBOX)


def test_another_holders_card_is_not_found(client, holder):
    creds, tokens = holder
    add_card(client, creds, tokens)
    client.cookies.clear()
    other = tokens_for(client, creds, name="João Souza", cpf="529.982.247-25", email="joao@example.com")
    headers = {"Client-Id": creds.client_id, "Access-Token": other["access_token"]}
    response = client.get(SANDBOX + "/me/cards/1", headers=headers)
    assert response.status_code == 404
    check(response, SANDBOX)
    assert client.get(SANDBOX + "/me/cards/abc", headers=headers).status_code == 400
    assert me_cards(client, creds, other).json() == []


def test_partners_in_the_back_office(client, settings, admin):
    assert client.get("/admin/v1/sandbox/partners").status_code == 401
    whitelabel = {"Authorization": f"Bearer {make_token(settings, scope='whitelabel')[1]}"}
    assert client.get("/admin/v1/sandbox/partners", headers=whitelabel).status_code == 403  # valid, not of this scope
    partner = create_partner(client, admin)
    assert client.get("/admin/v1/production/partners", headers=admin).json() == []
    assert client.get(f"/admin/v1/production/partners/{partner['id']}", headers=admin).status_code == 404
    changed = client.patch(f"/admin/v1/sandbox/partners/{partner['id']}", json={"active": False}, headers=admin)
    assert changed.status_code == 200 and changed.json()["active"] is False
    for body in ({"name": "x", "term": "not a url", "associationType": "AUTOMATIC"},
                 {"name": "", "term": "https://a.example.com", "associationType": "AUTOMATIC"},
                 {"name": "x", "term": "https://a.example.com", "associationType": "SOMETIMES"},
                 {"name": "x", "term": "https://a.example.com", "associationType": "AUTOMATIC", "extra": 1}):
        assert client.post("/admin/v1/sandbox/partners", json=body, headers=admin).status_code == 400
    assert client.patch(f"/admin/v1/sandbox/partners/{partner['id']}", json={"name": None}, headers=admin).status_code == 400
    creds = partner_app(client)
    apps = client.get("/admin/v1/sandbox/applications", headers=admin).json()
    assert apps[0]["clientId"] == creds.client_id and apps[0]["partnerId"] is None
    linked = client.patch(f"/admin/v1/sandbox/applications/{apps[0]['id']}", json={"partnerId": partner["id"]}, headers=admin)
    assert linked.status_code == 200 and linked.json()["partnerId"] == partner["id"]
    elsewhere = client.patch(f"/admin/v1/production/applications/{apps[0]['id']}", json={"partnerId": 1}, headers=admin)
    assert elsewhere.status_code == 404
