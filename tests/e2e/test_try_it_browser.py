"""A partner developer's first minutes in a real browser, on a phone and on a desktop: the panel
fits the screen, its redirect URLs are edited in place, its "try it" link signs a test holder in
and lands on the sandbox callback page, whose code the shown verifier exchanges; the consent
page's Deny is as prominent as Allow; the card page keeps what was typed after a refusal."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.parametrize("page", ["phone", "desktop"], indirect=True)]
BASE = "/sandbox/promotions/v1"
PASSWORD = "correct horse battery"


def fits(page) -> None:
    """Nothing reaches past the screen's right edge: no sideways scrolling on a phone."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    overflowing = page.evaluate("""w => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > w + 0.5).map(e => e.outerHTML.slice(0, 80))""", width)
    assert overflowing == [], overflowing


def on_screen(locator, page) -> None:
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], box


def test_panel_try_it_redirect_urls_and_card_page(page, live, request):
    screen = request.node.callspec.params["page"]
    callback = live.url + "/sandbox/callback"
    page.goto(live.url + "/developer/sign-up")
    page.fill("#name", "Ana Developer")
    page.fill("#email", f"ana-{screen}@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.click("button:has-text('Sign up')")
    page.fill("#email", f"ana-{screen}@example.com")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert page.url.endswith("/developer/applications")
    fits(page)
    on_screen(page.locator("header button:has-text('Sign out')"), page)
    assert page.locator("header a[href='/docs']").is_visible() and page.locator("header a[href='/docs/API.md']").is_visible()
    page.snap("applications")

    page.fill("#name", "Loyalty app")
    page.fill("#redirect_urls", "https://app.example.com/callback")
    page.click("button:has-text('Create application')")
    client_id = page.text_content("[data-field=client_id]").strip()
    client_secret = page.text_content("[data-field=client_secret]").strip()
    fits(page)
    page.click("text=Continue to the application's Access Tokens")
    page.fill("#token_name", "backend")
    page.click("button:has-text('Create Access-Token')")
    fits(page)
    on_screen(page.locator("#access-tokens button:has-text('Revoke')").first, page)
    for column in ("backend", "600", "100", "16384", "holder, partner"):
        cell = page.locator("#access-tokens td", has_text=re.compile(rf"^{re.escape(column)}$")).first
        assert cell.is_visible(), column
        on_screen(cell, page)
    page.snap("application")

    # redirect URLs edited in place: a refusal keeps what was typed; add, change, remove
    page.fill("#new_redirect_url", "http://partner.example.com/cb")
    page.click("#redirect-urls button:has-text('Add')")
    assert "https URL" in page.text_content("[role=alert]")
    assert page.input_value("#new_redirect_url") == "http://partner.example.com/cb"
    fits(page)
    page.snap("redirect-url-refused")
    page.fill("#new_redirect_url", "http://localhost:3000/cb")
    page.click("#redirect-urls button:has-text('Add')")
    assert page.input_value("#redirect_url_2") == "http://localhost:3000/cb"
    page.fill("#redirect_url_2", "com.example.app:/oauth")
    page.locator("li.redirect-url").nth(1).locator("button:has-text('Save')").click()
    page.locator("li.redirect-url").first.locator("button:has-text('Remove')").click()
    assert [page.input_value(f"#redirect_url_{i + 1}") for i in range(page.locator("li.redirect-url").count())] == [
        "com.example.app:/oauth"]
    fits(page)
    page.snap("redirect-urls-edited")

    # try it: register the callback page, then the ready link
    assert page.locator("[data-field=sign_in_link]").count() == 0
    page.click("button:has-text('Add the callback page')")
    assert page.input_value("#redirect_url_2") == callback
    shell = page.text_content("[data-field=try_it_shell]")
    verifier = re.search(r"CODE_VERIFIER='([^']+)'", shell).group(1)
    assert f"CLIENT_ID='{client_id}'" in shell
    fits(page)
    page.snap("try-it")
    with page.context.expect_page() as opened:
        page.click("[data-field=sign_in_link]")
    holder = opened.value
    holder.wait_for_load_state()
    assert "/oauth/login" in holder.url
    holder.fill("#password", "senha muito segura")
    holder.fill("#password_confirm", "senha muito segura")
    holder.check("input[name=accept_terms]")
    holder.click("button:has-text('Create account')")
    assert "/oauth/consent" in holder.url
    fits(holder)
    allow, deny = holder.locator("button:has-text('Allow')"), holder.locator("button:has-text('Deny')")
    a, d = allow.bounding_box(), deny.bounding_box()
    assert abs(a["width"] - d["width"]) <= 1 and abs(a["height"] - d["height"]) <= 1, (a, d)
    assert deny.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
    assert deny.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    page.snap("consent", holder)
    allow.click()
    assert holder.url.startswith(callback + "?")
    code = holder.text_content("[data-field=code]").strip()
    assert parse_qs(urlsplit(holder.url).query)["code"] == [code]
    command = holder.text_content("[data-field=next_command]")
    assert "CODE_VERIFIER" in command and f"CLIENT_ID={client_id}\n" in command
    fits(holder)
    page.snap("callback-code", holder)
    tokens = httpx.post(f"{live.url}{BASE}/access-token", auth=(client_id, client_secret), headers={"Client-Id": client_id},
                        json={"grant_type": "authorization_code", "code": code, "code_verifier": verifier})
    assert tokens.status_code == 201, tokens.text

    # the card page keeps what was typed after a refusal, never the number or the CVV
    cards = {"client_id": client_id, "access_token": tokens.json()["access_token"], "redirect_url": callback}
    holder.goto(f"{live.url}{BASE}/cards?{urlencode(cards)}")
    year = str(date.today().year + 2)
    holder.fill("#card_number", "4111 1111 1111 1112")
    holder.fill("#expiry_month", "07")
    holder.fill("#expiry_year", year)
    holder.fill("#cvv", "321")
    holder.fill("#holder_name", "TITULAR DE TESTE")
    holder.fill("#nickname", "Viagens")
    holder.select_option("#type", "MULTIPLE")
    holder.click("button:has-text('Add card')")
    assert "check digit" in holder.text_content("[role=alert]")
    assert [holder.input_value(f"#{name}") for name in ("card_number", "cvv", "expiry_month", "expiry_year",
                                                         "holder_name", "nickname", "type")] == [
        "", "", "07", year, "TITULAR DE TESTE", "Viagens", "MULTIPLE"]
    fits(holder)
    page.snap("card-refused-keeps-fields", holder)
    holder.fill("#card_number", "4111 1111 1111 1111")
    holder.fill("#cvv", "321")
    holder.click("button:has-text('Add card')")
    assert holder.url.startswith(callback + "?card_id=")
    assert holder.text_content("[data-field=card_id]").strip() == parse_qs(urlsplit(holder.url).query)["card_id"][0]
    fits(holder)
    page.snap("callback-card", holder)
