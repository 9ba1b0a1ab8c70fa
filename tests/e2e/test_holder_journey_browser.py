"""A card holder in a real browser: /login → sign up → consent → code → token → /me →
/cards page → add a card → /me/cards. The flows begin on the partner's site (another site than
the service's), and their pages refuse a second browser holding their addresses."""

from __future__ import annotations

import time
from datetime import date
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.support.panel import Panel

pytestmark = [pytest.mark.browser, pytest.mark.slow]
BASE = "/sandbox/promotions/v1"


def _from_the_partner_s_site(page, partner_site: str, url: str) -> None:
    """Navigate to ``url`` as a link on the partner's site would (a cross-site navigation)."""
    page.goto(partner_site)
    with page.expect_navigation():
        page.evaluate("url => { window.location.href = url; }", url)


def _refused_elsewhere(browser, url: str) -> None:
    """Another browser opening a step's address gets the error page, no form."""
    context = browser.new_context(locale="pt-BR")
    try:
        other = context.new_page()
        response = other.goto(url)
        assert response is not None and response.status == 403
        assert "started in another browser" in other.content()
        assert other.locator("form").count() == 0 and urlsplit(other.url).path == urlsplit(url).path
    finally:
        context.close()


def test_holder_journey(page, live, browser):
    callback = live.url.replace("127.0.0.1", "localhost") + "/healthz"
    with httpx.Client(base_url=live.url, follow_redirects=True) as developer:
        panel = Panel(developer)
        panel.register("partner@example.com")
        creds = panel.application_with_token(environment="sandbox", redirect_urls=callback)
    admin = live.cli("admin", "token", "create", "--name", "e2e", "--scope", "admin").stdout.strip().splitlines()[-1]
    partner = httpx.post(live.url + "/admin/v1/sandbox/partners", headers={"Authorization": f"Bearer {admin}"},
                         json={"name": "Livelo", "description": "Pontos", "term": "https://livelo.example.com/termos",
                               "associationType": "AUTOMATIC"})
    assert partner.status_code == 201

    login = {"client_id": creds.client_id, "redirect_url": callback, "name": "Maria Silva", "cpf": "390.533.447-05",
             "birthdate": "1990-05-17", "email": "maria@example.com", "state": "e2e-state"}
    partner_site = callback  # localhost: another site than 127.0.0.1, where the service is reached
    _from_the_partner_s_site(page, partner_site, f"{live.url}{BASE}/login?{urlencode(login)}")
    assert "/oauth/login" in page.url
    page.snap("sign-up")
    _refused_elsewhere(browser, page.url)
    page.fill("#password", "senha muito segura")
    page.fill("#password_confirm", "senha muito segura")
    page.check("input[name=accept_terms]")
    page.click("button:has-text('Create account')")
    assert "/oauth/consent" in page.url
    page.snap("consent")
    _refused_elsewhere(browser, page.url)
    page.click("button:has-text('Allow')")
    landed = urlsplit(page.url)
    assert landed.path == "/healthz"
    query = parse_qs(landed.query)
    assert query["state"] == ["e2e-state"]
    page.snap("callback-with-code")

    token = httpx.post(f"{live.url}{BASE}/access-token", json={"grant_type": "authorization_code", "code": query["code"][0]},
                       headers={"Client-Id": creds.client_id}, auth=(creds.client_id, creds.client_secret))
    assert token.status_code == 201, token.text
    access = token.json()["access_token"]
    holder_headers = {"Client-Id": creds.client_id, "Access-Token": access}
    me = httpx.get(f"{live.url}{BASE}/me", headers=holder_headers)
    assert me.status_code == 200 and me.json()["document"] == "39053344705"

    cards = {"client_id": creds.client_id, "access_token": access, "redirect_url": callback}
    _from_the_partner_s_site(page, partner_site, f"{live.url}{BASE}/cards?{urlencode(cards)}")
    assert "/oauth/cards" in page.url
    _refused_elsewhere(browser, page.url)
    page.fill("#card_number", "4111 1111 1111 1111")
    page.fill("#expiry_month", "12")
    page.fill("#expiry_year", str(date.today().year + 2))
    page.fill("#cvv", "123")
    page.fill("#holder_name", "MARIA SILVA")
    page.fill("#nickname", "Cartão principal")
    page.select_option("#type", "DEBIT")
    page.check("input[name=partner]")
    page.snap("card-form")
    page.click("button:has-text('Add card')")
    landed = urlsplit(page.url)
    assert landed.path == "/healthz"
    card_id = int(parse_qs(landed.query)["card_id"][0])
    page.snap("callback-with-card-id")

    listed = httpx.get(f"{live.url}{BASE}/me/cards", params={"_offset": 0, "_limit": 10, "_expand": "partners"},
                       headers=holder_headers)
    assert listed.status_code == 200
    assert listed.json() == [{"id": card_id, "brand": "Visa", "maskedPan": "************1111", "type": "DEBIT",
                              "status": "STRONG", "nickname": "Cartão principal",
                              "partners": [{"id": partner.json()["id"], "name": "Livelo", "description": "Pontos",
                                            "term": "https://livelo.example.com/termos", "associationType": "AUTOMATIC",
                                            "statusAssociation": True}]}]
    assert "4111111111111111" not in live.log and access not in live.log


def test_holder_signs_up_from_a_phone_with_gender_and_phone(phone_page, live):
    """The sign-up form's optional fields, a wrong phone number refused and kept for fixing,
    and the Android phone recorded as the holder's device, with its cookie."""
    page = phone_page
    callback = live.url.replace("127.0.0.1", "localhost") + "/healthz"
    with httpx.Client(base_url=live.url, follow_redirects=True) as developer:
        panel = Panel(developer)
        panel.register("phone-partner@example.com")
        creds = panel.application_with_token(environment="sandbox", redirect_urls=callback)

    login = {"client_id": creds.client_id, "redirect_url": callback, "name": "Ana Souza", "cpf": "529.982.247-25",
             "birthdate": "1985-02-11", "email": "ana.souza@example.com", "state": "phone"}
    page.goto(f"{live.url}{BASE}/login?{urlencode(login)}")
    page.select_option("#gender", "FEMALE")
    page.fill("#phone", "(20) 98765-4321")  # no area code 20
    page.fill("#password", "senha muito segura")
    page.fill("#password_confirm", "senha muito segura")
    page.check("input[name=accept_terms]")
    page.click("button:has-text('Create account')")
    assert "area code" in page.text_content("[role=alert]")
    assert page.input_value("#phone") == "(20) 98765-4321" and page.input_value("#gender") == "FEMALE"
    page.snap("phone-refused")
    page.fill("#phone", "(11) 98765-4321")
    page.fill("#password", "senha muito segura")
    page.fill("#password_confirm", "senha muito segura")
    page.check("input[name=accept_terms]")
    page.click("button:has-text('Create account')")
    assert "/oauth/consent" in page.url
    page.click("button:has-text('Allow')")
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    device = next(c for c in page.context.cookies() if c["name"] == "cielo_device")
    assert device["httpOnly"] and device["sameSite"] == "Lax" and device["expires"] > time.time() + 300 * 86400

    token = httpx.post(f"{live.url}{BASE}/access-token", json={"grant_type": "authorization_code", "code": code},
                       headers={"Client-Id": creds.client_id}, auth=(creds.client_id, creds.client_secret))
    me = httpx.get(f"{live.url}{BASE}/me", headers={"Client-Id": creds.client_id,
                                                    "Access-Token": token.json()["access_token"]}).json()
    assert me["gender"] == "FEMALE" and me["phone"] == {"areaCode": 11, "phoneNumber": 987654321}
    assert [d["type"] for d in me["devices"]] == ["ANDROID"]
