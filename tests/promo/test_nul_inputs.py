"""A NUL character, which PostgreSQL text cannot hold, in any text the service looks up or
stores: a 4xx with its sentence, never a 500 (each case below was a 500 on PostgreSQL until it
was validated before reaching the database). Both databases."""

from __future__ import annotations

import base64

from tests.support.db import make_token
from tests.support.panel import Panel
from tests.support.promo import SANDBOX, TX, login_params

NUL = "a\x00b"


def test_nul_in_any_text_is_a_refusal(client, settings, admin, world):
    creds = world["creds"]
    partner = {"Client-Id": creds.client_id, "Access-Token": creds.access_token}
    wl = {"Authorization": f"Bearer {make_token(settings)[1]}"}
    purchase = {"cardId": world["card"], "commercialEstablishmentId": world["shop"], "amount": "1.00",
                "occurredAt": "2026-03-02T12:00:00-03:00", "productPrimary": {"id": 1, "description": "x"}}
    basic = base64.b64encode(f"{creds.client_id}\x00:{creds.client_secret}".encode()).decode()
    panel = Panel(client)
    answers = {
        "white-label GET by name": client.get("/api/integrations/canvas/v1/white_label_account/a%00b", headers=wl),
        "white-label POST": client.post("/api/integrations/canvas/v1/white_label_account", headers=wl,
                                        json={"canvas_space_name": NUL, "api_key": "k", "api_secret": "s"}),
        "panel sign-in": panel.post_form("/developer/sign-in", "/developer/sign-in",
                                         {"email": "a\x00@example.com", "password": "x"}),
        "panel sign-up": panel.post_form("/developer/sign-up", "/developer/sign-up", {
            "name": "Ana", "email": "a\x00@example.com", "password": "correct horse battery",
            "password_confirm": "correct horse battery"}),
        "/login client_id": client.get(SANDBOX + "/login", params=login_params(creds, client_id=NUL),
                                       follow_redirects=False),
        "/login state": client.get(SANDBOX + "/login", params=login_params(creds, state=NUL), follow_redirects=False),
        "/login name": client.get(SANDBOX + "/login", params=login_params(creds, name=NUL), follow_redirects=False),
        "/login email": client.get(SANDBOX + "/login", params=login_params(creds, email="a\x00@example.com"),
                                   follow_redirects=False),
        "/login redirect_url": client.get(SANDBOX + "/login", params=login_params(creds, redirect_url=NUL),
                                          follow_redirects=False),
        "client_id in the query": client.get(SANDBOX + "/promotions", params={
            "client_id": NUL, "latitude": "0", "longitude": "0", "radius": "10", "_offset": "0", "_limit": "1"}),
        "/access-token Basic": client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code",
                                                                            "code": "x"},
                                           headers={"Client-Id": creds.client_id, "Authorization": f"Basic {basic}"}),
        "/access-token code": client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code",
                                                                           "code": NUL}, headers=_basic(creds)),
        "/refresh-token code": client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token",
                                                                             "code": NUL}, headers=_basic(creds)),
        "subscription action": client.post(f"{SANDBOX}/commercial-establishments/{world['shop']}/subscriptions",
                                           headers=partner, json={"promotionID": 1, "action": "S\x00"}),
        "purchase product": client.post(TX, headers=admin, json={
            **purchase, "productPrimary": {"id": 1, "description": NUL}}),
        "purchase secondary product": client.post(TX, headers=admin, json={
            **purchase, "productSecondary": {"id": 2, "description": NUL}}),
        "purchase externalId": client.post(TX, headers=admin, json={**purchase, "externalId": NUL}),
        "partner": client.post("/admin/v1/sandbox/partners", headers=admin, json={
            "name": NUL, "description": NUL, "term": "https://a.example.com/", "associationType": "AUTOMATIC"}),
        "promotion premium": client.post("/admin/v1/sandbox/promotions", headers=admin, json={
            "commercialEstablishmentId": world["shop"], "title": "T", "campaignType": "G", "startDate": "2026-01-01",
            "endDate": "2026-12-31", "premium": NUL, "rules": {}}),
        "promotion campaignModel": client.post("/admin/v1/sandbox/promotions", headers=admin, json={
            "commercialEstablishmentId": world["shop"], "title": "T", "campaignType": "G", "startDate": "2026-01-01",
            "endDate": "2026-12-31", "premium": "p", "rules": {}, "campaignModel": NUL, "transactionDays": NUL}),
        "establishment address": client.post("/admin/v1/sandbox/commercial-establishments", headers=admin, json={
            "fictitiousName": "Loja", "businessActivityId": 5812, "cnpj": "11.222.333/0001-81", "latitude": 0,
            "longitude": 0, "address": {"street": NUL}}),
    }
    wrong = {name: (r.status_code, r.text[:200]) for name, r in answers.items() if not 400 <= r.status_code < 500}
    assert not wrong, wrong


def _basic(creds) -> dict[str, str]:
    encoded = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    return {"Client-Id": creds.client_id, "Authorization": f"Basic {encoded}"}
