"""The developer panel (API.md §5) through its HTML forms, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from tests.support.db import db_sql
from tests.support.panel import PASSWORD, Panel, csrf_of, field


@pytest.fixture
def panel(client) -> Panel:
    return Panel(client)


def test_developer_leads_to_sign_in_which_links_to_sign_up(client):
    response = client.get("/developer")
    assert response.url.path == "/developer/sign-in"
    assert 'href="/developer/sign-up"' in response.text
    for name in ("email", "password", "csrf_token"):
        assert f'name="{name}"' in response.text
    page = client.get("/developer/sign-up").text
    for name in ("name", "email", "password", "password_confirm", "csrf_token"):
        assert f'name="{name}"' in page
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"name": "A", "email": "not-an-email", "password": PASSWORD, "password_confirm": PASSWORD}, "valid e-mail"),
        ({"name": "A", "email": "a@example.com", "password": "short", "password_confirm": "short"}, "at least 10"),
        ({"name": "A", "email": "a@example.com", "password": PASSWORD, "password_confirm": PASSWORD + "x"}, "do not match"),
        ({"name": " ", "email": "a@example.com", "password": PASSWORD, "password_confirm": PASSWORD}, "name must not be empty"),
        ({"name": "A" * 101, "email": "a@example.com", "password": PASSWORD, "password_confirm": PASSWORD}, "at most 100"),
    ],
)
def test_sign_up_refusals_create_nothing(panel, settings, data, message):
    response = panel.post_form("/developer/sign-up", "/developer/sign-up", data)
    assert response.status_code == 400
    assert message in response.text
    assert db_sql(settings, "SELECT COUNT(*) FROM developers")[0][0] == 0


def test_sign_up_stores_an_argon2_hash_and_refuses_a_second_account(panel, settings):
    assert panel.sign_up("Ana@Example.com").status_code == 200
    (email, stored), = db_sql(settings, "SELECT email, password_hash FROM developers")
    assert email == "ana@example.com" and stored.startswith("$argon2id$") and PASSWORD not in stored
    response = panel.sign_up("ana@example.COM")
    assert response.status_code == 400 and "already exists" in response.text


def test_forms_without_a_valid_csrf_token_are_refused(client, settings):
    client.get("/developer/sign-up")
    data = {"name": "A", "email": "a@example.com", "password": PASSWORD, "password_confirm": PASSWORD}
    for token in (None, "forged", "0" * 64):
        payload = dict(data) if token is None else {**data, "csrf_token": token}
        response = client.post("/developer/sign-up", data=payload)
        assert response.status_code == 403
    assert db_sql(settings, "SELECT COUNT(*) FROM developers")[0][0] == 0
    # A token from one browser does not work in another (other cookie).
    token = csrf_of(client.get("/developer/sign-up").text)
    client.cookies.clear()
    assert client.post("/developer/sign-up", data={**data, "csrf_token": token}).status_code == 403


def test_sign_in_session_cookie_and_sign_out(panel, client):
    panel.sign_up("ana@example.com")
    wrong = panel.sign_in("ana@example.com", "wrong password!")
    assert wrong.status_code == 400 and "e-mail or the password is wrong" in wrong.text
    unknown = panel.sign_in("nobody@example.com")
    assert unknown.status_code == 400 and "e-mail or the password is wrong" in unknown.text
    response = panel.sign_in("ana@example.com", PASSWORD)
    assert response.url.path == "/developer/applications"
    set_cookie = response.history[0].headers["set-cookie"]
    assert "cielo_dev_session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie
    cookie = client.cookies.get("cielo_dev_session")
    panel.post_form("/developer/applications", "/developer/sign-out", {})
    client.cookies.set("cielo_dev_session", cookie, path="/developer")
    assert client.get("/developer/applications").url.path == "/developer/sign-in"


def test_sign_in_is_throttled(panel):
    panel.sign_up("ana@example.com")
    codes = [panel.sign_in("ana@example.com", "wrong password!").status_code for _ in range(6)]
    assert codes[:5] == [400] * 5 and codes[5] == 429
    assert panel.sign_in("ana@example.com").status_code == 429  # even the right password, for now


def test_only_wrong_passwords_count(panel, client, cheap_passwords):
    """Signing in again and again brings nobody closer to a 429; five wrong passwords do."""
    panel.sign_up("ana@example.com")
    for _ in range(8):
        assert panel.sign_in("ana@example.com").url.path == "/developer/applications"
        client.cookies.delete("cielo_dev_session", path="/developer")
    codes = [panel.sign_in("ana@example.com", "wrong password!").status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]


def test_wrong_passwords_are_throttled_per_address(panel, cheap_passwords):
    """Guesses spread over many accounts from one address: 30 a minute, then 429 for any."""
    codes = [panel.sign_in(f"dev{i}@example.com", "wrong password!").status_code for i in range(31)]
    assert codes == [400] * 30 + [429]


def test_sign_ups_are_limited_per_address_generously(panel, settings, cheap_passwords):
    """Each sign-up costs a password hash: 100 accounts a minute from one address, then 429."""
    codes = [panel.sign_up(f"dev{i}@example.com").status_code for i in range(101)]
    assert codes == [200] * 100 + [429]
    assert db_sql(settings, "SELECT COUNT(*) FROM developers")[0][0] == 100


def test_applications_and_tokens(panel, client, settings):
    panel.register("ana@example.com")
    response = panel.create_application(
        name="Loyalty app", environment="production",
        redirect_urls="https://app.example.com/callback\nhttp://localhost:3000/cb\ncom.example.app:/oauth",
    )
    assert response.status_code == 200
    client_id, secret = field(response.text, "client_id"), field(response.text, "client_secret")
    assert client_id.startswith("prd_") and len(secret) >= 43
    first_token = field(response.text, "access_token")  # made with the Client ID, shown once beside it
    assert first_token and first_token.startswith("capp_")
    listing = client.get("/developer/applications").text
    assert client_id in listing and "Client ID" in listing and secret not in listing
    details = client.get("/developer/applications/1").text
    assert secret not in details and 'data-field="client_secret"' not in details
    (digest,), = db_sql(settings, "SELECT client_secret_digest FROM applications")
    assert secret.encode() not in bytes(digest)

    rotated = panel.post_form("/developer/applications/1", "/developer/applications/1/rotate-secret", {})
    new_secret = field(rotated.text, "client_secret")
    assert new_secret and new_secret != secret and field(rotated.text, "client_id") == client_id

    created = panel.create_token(1, name="backend", rpm="120", page="50", body="4096", groups=("partner",))
    token = field(created.text, "access_token")
    assert token and token.startswith("capp_")
    table = re.search(r'<table id="access-tokens">.*?</table>', created.text, re.S).group(0)
    for value in ("backend", "120", "50", "4096", "partner"):
        assert value in table
    again = client.get("/developer/applications/1").text
    assert token not in again and first_token not in again and 'data-field="access_token"' not in again
    stored = db_sql(settings, "SELECT name, secret_digest, secret_encrypted FROM app_access_tokens ORDER BY id")
    assert [(name, encrypted) for name, _, encrypted in stored] == [("default", None), ("backend", None)]  # production
    for (_, digest_of, _), shown in zip(stored, (first_token, token), strict=True):
        assert shown.split(".")[1].encode() not in bytes(digest_of)

    revoked = panel.post_form("/developer/applications/1", "/developer/applications/1/tokens/1/revoke", {})
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert db_sql(settings, "SELECT revoked_at IS NOT NULL FROM app_access_tokens WHERE id = 1")[0][0]

    profile = panel.post_form("/developer/applications/1", "/developer/applications/1/holder-profile",
                              {"requests_per_minute": "30", "max_page_size": "20"})
    assert profile.status_code == 200
    assert db_sql(settings, "SELECT holder_requests_per_minute, holder_max_page_size FROM applications")[0] == (30, 20)


@pytest.mark.parametrize(
    "environment,urls,message",
    [
        ("staging", "https://a.example.com/cb", "sandbox or the production"),
        ("sandbox", "", "at least one redirect URL"),
        ("sandbox", "http://app.example.com/cb", "https URL"),
        ("sandbox", "https://app.example.com/cb#frag", "fragment"),
        ("sandbox", "javascript:alert(1)", "https URL"),
        ("sandbox", "/relative/path", "https URL"),
        ("sandbox", "\n".join(f"https://a.example.com/{i}" for i in range(11)), "at most 10"),
    ],
)
def test_application_refusals_create_nothing(panel, settings, environment, urls, message):
    panel.register("ana@example.com")
    response = panel.create_application(environment=environment, redirect_urls=urls)
    assert response.status_code == 400 and message in response.text
    assert db_sql(settings, "SELECT COUNT(*) FROM applications")[0][0] == 0


@pytest.mark.parametrize(
    "rpm,page,body,groups,message",
    [
        ("0", "100", "4096", ("holder",), "between 1 and 100000"),
        ("ten", "100", "4096", ("holder",), "whole number"),
        ("60", "1001", "4096", ("holder",), "between 1 and 1000"),
        ("60", "100", "100", ("holder",), "between 256 and 1048576"),
        ("60", "100", "4096", (), "API groups"),
        ("60", "100", "4096", ("admin",), "API groups"),
    ],
)
def test_token_profile_refusals(panel, settings, rpm, page, body, groups, message):
    panel.register("ana@example.com")
    panel.create_application()
    response = panel.create_token(1, rpm=rpm, page=page, body=body, groups=groups)
    assert response.status_code == 400 and message in response.text
    assert db_sql(settings, "SELECT name FROM app_access_tokens") == [("default",)]  # the application's first only


def test_a_developer_sees_and_changes_only_their_own(client, settings):
    panel = Panel(client)
    panel.register("ana@example.com")
    panel.application_with_token()
    client.cookies.clear()  # another browser: Bob's
    panel.register("bob@example.com")
    assert "My app" not in client.get("/developer/applications").text
    assert client.get("/developer/applications/1").status_code == 404
    assert client.get("/developer/applications/99999999999").status_code == 404  # beyond 32 bits
    assert client.get("/developer/applications/1/tokens/1").status_code == 404
    for action, data in [
        ("/developer/applications/1/rotate-secret", {}),
        ("/developer/applications/1/tokens", {"name": "x", "requests_per_minute": "1", "max_page_size": "1",
                                             "max_body_bytes": "1000", "api_groups": ["holder"]}),
        ("/developer/applications/1/tokens/1/revoke", {}),
        ("/developer/applications/1/tokens/1/reveal", {"password": "correct horse battery"}),
        ("/developer/applications/1/holder-profile", {"requests_per_minute": "1", "max_page_size": "1"}),
    ]:
        response = panel.post_form("/developer/applications", action, data)
        assert response.status_code == 404, action
    assert db_sql(settings, "SELECT COUNT(*), MIN(revoked_at) FROM app_access_tokens")[0] == (2, None)


def test_pages_need_a_session(client):
    for path in ("/developer/applications", "/developer/applications/1"):
        assert client.get(path).url.path == "/developer/sign-in"
