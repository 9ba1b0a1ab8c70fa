"""Driving the holder authorization flow from tests."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timezone
from urllib.parse import parse_qs, urlsplit

from tests.support.db import run
from tests.support.panel import Credentials, Panel, csrf_of
from tests.support.reference import reference

SANDBOX = "/sandbox/promotions/v1"
PRODUCTION = "/promotions/v1"
REDIRECT = "https://app.example.com/callback"
HOLDER_PASSWORD = "senha muito segura"
NEXT_YEAR = str(date.today().year + 1)
MARIA = {"name": "Maria Silva", "cpf": "390.533.447-05", "birthdate": "1990-05-17", "email": "maria@example.com"}


def check(response, base: str) -> None:
    """Validate a Promo answer (status and body) against the reference document."""
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    path = urlsplit(str(response.request.url)).path
    reference("promotions-v1.openapi.yaml").check(response.request.method, path, response.status_code, body, base=base)


def basic(creds: Credentials) -> dict[str, str]:
    encoded = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    return {"Client-Id": creds.client_id, "Authorization": f"Basic {encoded}"}


def login_params(creds: Credentials, **overrides) -> dict:
    params = {"client_id": creds.client_id, "redirect_url": REDIRECT, **MARIA, "state": "st-123"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def request_id_of(html: str) -> str:
    return re.search(r'name="request" value="([^"]+)"', html).group(1)


def sign_in_to_consent(client, base: str, location: str, password: str = HOLDER_PASSWORD):
    page = client.get(location)
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_of(page.text), "request": request_id_of(page.text), "password": password}
    if 'name="password_confirm"' in page.text:
        data.update(password_confirm=password, accept_terms="yes")
    return client.post(base + "/oauth/login", data=data, follow_redirects=False), request_id_of(page.text)


def authorize(client, creds: Credentials, base: str = SANDBOX, decision: str = "allow",
              password: str = HOLDER_PASSWORD, **params) -> str:
    """/login → sign up or in → consent; returns the URL the browser is sent back to."""
    response = client.get(base + "/login", params=login_params(creds, **params), follow_redirects=False)
    assert response.status_code == 301, response.text
    submitted, request_id = sign_in_to_consent(client, base, response.headers["location"], password)
    assert submitted.status_code == 303, submitted.text
    consent = client.get(submitted.headers["location"])
    final = client.post(base + "/oauth/consent",
                        data={"csrf_token": csrf_of(consent.text), "request": request_id, "decision": decision},
                        follow_redirects=False)
    assert final.status_code == 303, final.text
    return final.headers["location"]


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["code"][0]


def tokens_for(client, creds: Credentials, base: str = SANDBOX, **params) -> dict:
    code = code_of(authorize(client, creds, base, **params))
    response = client.post(base + "/access-token", json={"grant_type": "authorization_code", "code": code},
                           headers=basic(creds))
    assert response.status_code == 201, response.text
    return response.json()


def partner_app(client, environment: str = "sandbox", email: str = "dev@example.com") -> Credentials:
    panel = Panel(client)
    panel.register(email)
    creds = panel.application_with_token(environment=environment, redirect_urls=f"{REDIRECT}\nhttps://other.example.com/cb")
    client.cookies.clear()  # the holder's browser is not the developer's
    return creds


def card_page(client, creds, tokens, redirect=REDIRECT):
    response = client.get(SANDBOX + "/cards", params={"client_id": creds.client_id, "access_token": tokens["access_token"],
                                                      "redirect_url": redirect}, follow_redirects=False)
    assert response.status_code == 301, response.text
    return client.get(response.headers["location"])


def add_card(client, creds, tokens, **fields):
    page = card_page(client, creds, tokens)
    data = {"csrf_token": csrf_of(page.text), "request": re.search(r'name="request" value="([^"]+)"', page.text).group(1),
            "card_number": "4111 1111 1111 1111", "expiry_month": "12", "expiry_year": NEXT_YEAR, "cvv": "123",
            "holder_name": "MARIA SILVA", "type": "CREDIT", **fields}
    return client.post(SANDBOX + "/oauth/cards", data=data, follow_redirects=False)


# ---- the back office's establishments and promotions, subscriptions, transactions ----

PAULISTA = (-23.5614, -46.6559)
RULES = {
    "A": {"amount": "150.00", "windowDays": 30},
    "B": {"daysBefore": 0, "daysAfter": 7},
    "E": {"dates": ["2026-12-24", "2026-12-31"]},
    "F": {"visits": 4, "windowDays": 30},
    "G": {},
    "P": {"every": 3},
    "R": {"weekdays": [1, 2, 3], "startTime": "11:00", "endTime": "14:00"},
    "X": {"daysAway": 60},
    "W": {"minAmount": "20.00"},
}



def place(client, admin, lat, lon, name="Loja", env="sandbox") -> int:
    response = client.post(f"/admin/v1/{env}/commercial-establishments", headers=admin, json={
        "fictitiousName": name, "businessActivityId": 5812, "cnpj": "11.222.333/0001-81", "latitude": lat, "longitude": lon})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def promote(client, admin, establishment_id, campaign="G", env="sandbox", **fields) -> dict:
    body = {"commercialEstablishmentId": establishment_id, "title": f"Promo {campaign}", "description": "Desc",
            "campaignType": campaign, "startDate": "2026-01-01", "endDate": "2026-12-31", "active": True,
            "premium": "10% off", "rules": RULES[campaign], **fields}
    response = client.post(f"/admin/v1/{env}/promotions", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()



def headers(creds) -> dict:
    return {"Client-Id": creds.client_id, "Access-Token": creds.access_token}


def process(settings) -> int:
    """Run one processing pass as a separate worker would."""
    from cielo.db import Database
    from cielo.promo.subscriptions.service import SubscriptionService

    async def go():
        db = Database(settings.resolved_database_url, pool_size=1)
        try:
            return await SubscriptionService(db).process_batch()
        finally:
            await db.dispose()

    return run(go())


def ask(client, creds, establishment_id, promotion_id, action="S", base=SANDBOX):
    return client.post(f"{base}/commercial-establishments/{establishment_id}/subscriptions",
                       json={"promotionID": promotion_id, "action": action}, headers=headers(creds))



TX = "/admin/v1/sandbox/transactions"
SUBSCRIBED_SINCE = datetime(2025, 12, 1, tzinfo=timezone.utc)



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


def another_browser(app, client, address: tuple[str, int] = ("testclient", 50000)):
    """A second browser (cookies of its own; another client address when given) served on
    ``client``'s event loop, to which the database's pooled connections belong."""
    from starlette.testclient import TestClient

    browser = TestClient(app, raise_server_exceptions=False, client=address)
    browser.portal = client.portal
    return browser
