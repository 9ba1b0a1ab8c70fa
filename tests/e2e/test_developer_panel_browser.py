"""A developer in a real browser: sign up → create an application → create an Access-Token."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_developer_journey(page, live):
    page.goto(live.url + "/developer")
    assert page.url.endswith("/developer/sign-in")
    page.snap("sign-in")
    page.click("text=Sign up")
    page.fill("#name", "Ana Developer")
    page.fill("#email", "ana@example.com")
    page.fill("#password", "correct horse battery")
    page.fill("#password_confirm", "correct horse battery")
    page.snap("sign-up")
    page.click("button:has-text('Sign up')")
    assert "/developer/sign-in" in page.url
    page.fill("#email", "ana@example.com")
    page.fill("#password", "correct horse battery")
    page.click("button:has-text('Sign in')")
    assert page.url.endswith("/developer/applications")
    page.snap("registered-client-id")

    page.fill("#name", "Loyalty app")
    page.select_option("#environment", "sandbox")
    page.fill("#redirect_urls", "https://app.example.com/callback\nhttp://localhost:3000/callback")
    page.click("button:has-text('Create application')")
    client_id = page.text_content("[data-field=client_id]").strip()
    client_secret = page.text_content("[data-field=client_secret]").strip()
    first_token = page.text_content("[data-field=access_token]").strip()  # made with the Client ID
    assert client_id.startswith("sbx_") and len(client_secret) >= 43 and first_token.startswith("capp_")
    page.snap("credentials")

    page.click("text=Continue to the application's Access Tokens")
    assert page.locator("[data-field=client_secret]").count() == 0
    page.fill("#token_name", "backend")
    page.fill("#requests_per_minute", "120")
    page.fill("#max_page_size", "50")
    page.fill("#max_body_bytes", "8192")
    page.uncheck("input[name=api_groups][value=holder]")
    page.click("button:has-text('Create Access-Token')")
    token = page.text_content("[data-field=access_token]").strip()
    assert token.startswith("capp_")
    rows = page.locator("#access-tokens tbody tr")
    assert [c.strip() for c in rows.first.locator("td").all_text_contents()[:5]] == ["default", "600", "100", "16384",
                                                                                      "holder, partner"]
    assert [c.strip() for c in rows.last.locator("td").all_text_contents()[:5]] == ["backend", "120", "50", "8192", "partner"]
    page.snap("access-tokens")

    # A sandbox token seen again from its details, once the password is given again.
    rows.first.locator("text=details").click()
    assert page.locator("[data-field=access_token]").count() == 0
    page.fill("#password", "not the password")
    page.click("button:has-text('Show the Access-Token')")
    assert "password is wrong" in page.text_content("[role=alert]")
    assert page.locator("[data-field=access_token]").count() == 0
    page.fill("#password", "correct horse battery")
    page.click("button:has-text('Show the Access-Token')")
    assert page.text_content("[data-field=access_token]").strip() == first_token
    page.snap("token-shown-again")

    page.goto(live.url + "/developer/applications")
    assert client_id in page.text_content("#applications")
    page.click("text=Sign out")
    assert page.url.endswith("/developer/sign-in")
    page.goto(live.url + "/developer/applications")
    assert page.url.endswith("/developer/sign-in")
    page.snap("signed-out")
