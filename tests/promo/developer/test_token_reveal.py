"""An application's first Access-Token, made with its Client ID, and a sandbox token shown
again from its details with the developer's password (API.md §5, docs/SECURITY.md)."""

from __future__ import annotations

import re

import pytest

from tests.support.db import db_sql
from tests.support.panel import PASSWORD, Panel, csrf_of, field
from tests.support.promo import PRODUCTION, SANDBOX

FIRST_TOKEN = ("default", 600, 100, 16384)


@pytest.fixture
def panel(client) -> Panel:
    panel = Panel(client)
    panel.register("ana@example.com")
    return panel


def _created(panel: Panel, environment: str) -> tuple[int, str]:
    response = panel.create_application(environment=environment)
    assert response.status_code == 200, response.text
    token = field(response.text, "access_token")
    assert token and token.startswith("capp_")
    assert field(response.text, "client_id") and field(response.text, "client_secret")
    return int(re.search(r"/developer/applications/(\d+)", response.text).group(1)), token


def _token_id(settings, app_id: int) -> int:
    return db_sql(settings, f"SELECT MIN(id) FROM app_access_tokens WHERE application_id = {app_id}")[0][0]


def _reveal(panel: Panel, app_id: int, token_id: int, password: str):
    page = f"/developer/applications/{app_id}/tokens/{token_id}"
    return panel.post_form(page, page + "/reveal", {"password": password})


@pytest.mark.parametrize("environment,base", [("sandbox", SANDBOX), ("production", PRODUCTION)])
def test_an_application_is_created_with_its_first_access_token(panel, client, settings, environment, base):
    app_id, token = _created(panel, environment)
    client_id = db_sql(settings, f"SELECT client_id FROM applications WHERE id = {app_id}")[0][0]
    rows = db_sql(settings, "SELECT name, requests_per_minute, max_page_size, max_body_bytes, api_groups "
                            f"FROM app_access_tokens WHERE application_id = {app_id}")
    assert [row[:4] for row in rows] == [FIRST_TOKEN] and "holder" in rows[0][4] and "partner" in rows[0][4]
    answer = client.get(base + "/commercial-establishments", headers={"Client-Id": client_id, "Access-Token": token})
    assert answer.status_code == 200, answer.text
    table = client.get(f"/developer/applications/{app_id}").text
    assert token not in table and "default" in table


def test_a_sandbox_token_is_kept_encrypted_and_shown_again_with_the_password(panel, client, settings):
    app_id, token = _created(panel, "sandbox")
    token_id = _token_id(settings, app_id)
    ((digest, encrypted),) = db_sql(settings, f"SELECT secret_digest, secret_encrypted FROM app_access_tokens "
                                              f"WHERE id = {token_id}")
    assert encrypted and token not in encrypted and token.split(".")[1] not in encrypted
    assert token.split(".")[1].encode() not in bytes(digest)

    details = client.get(f"/developer/applications/{app_id}/tokens/{token_id}")
    assert details.status_code == 200 and field(details.text, "access_token") is None
    form = re.search(r'<form method="post" action="[^"]+/reveal">.*?</form>', details.text, re.S).group(0)
    assert re.findall(r'<input[^>]*name="([^"]+)"', form) == ["csrf_token", "password"]
    assert 'type="hidden" name="csrf_token"' in form

    wrong = _reveal(panel, app_id, token_id, "not my password")
    assert wrong.status_code == 400 and "password is wrong" in wrong.text and token not in wrong.text
    shown = _reveal(panel, app_id, token_id, PASSWORD)
    assert shown.status_code == 200 and field(shown.text, "access_token") == token
    assert client.get(f"/developer/applications/{app_id}/tokens/{token_id}").text.count(token) == 0
    assert db_sql(settings, "SELECT COUNT(*) FROM audit_log WHERE operation = 'reveal' "
                            f"AND resource_key = '{token_id}'")[0][0] == 1


def test_a_second_token_of_a_sandbox_application_is_shown_again_too(panel, settings):
    app_id, _ = _created(panel, "sandbox")
    created = panel.create_token(app_id, name="backend")
    token = field(created.text, "access_token")
    (token_id,), = db_sql(settings, "SELECT id FROM app_access_tokens WHERE name = 'backend'")
    assert field(_reveal(panel, app_id, token_id, PASSWORD).text, "access_token") == token


def test_wrong_passwords_are_throttled_per_developer(panel, settings):
    app_id, token = _created(panel, "sandbox")
    token_id = _token_id(settings, app_id)
    for _ in range(5):
        assert _reveal(panel, app_id, token_id, "guess guess guess").status_code == 400
    throttled = _reveal(panel, app_id, token_id, PASSWORD)
    assert throttled.status_code == 429 and "Too many attempts" in throttled.text and token not in throttled.text


def test_a_production_token_is_shown_once_only(panel, client, settings):
    app_id, token = _created(panel, "production")
    token_id = _token_id(settings, app_id)
    assert db_sql(settings, f"SELECT secret_encrypted FROM app_access_tokens WHERE id = {token_id}") == [(None,)]
    details = client.get(f"/developer/applications/{app_id}/tokens/{token_id}")
    assert details.status_code == 200 and "shown once only" in details.text and 'name="password"' not in details.text
    refused = _reveal(panel, app_id, token_id, PASSWORD)
    assert refused.status_code == 400 and token not in refused.text and "shown once only" in refused.text


def test_a_token_stored_without_ciphertext_cannot_be_shown_again(panel, client, settings):
    """Sandbox tokens made before migration 0017 have only their digest."""
    app_id, token = _created(panel, "sandbox")
    token_id = _token_id(settings, app_id)
    db_sql(settings, f"UPDATE app_access_tokens SET secret_encrypted = NULL WHERE id = {token_id}")
    details = client.get(f"/developer/applications/{app_id}/tokens/{token_id}")
    assert "cannot be shown" in details.text and 'name="password"' not in details.text
    refused = _reveal(panel, app_id, token_id, PASSWORD)
    assert refused.status_code == 400 and token not in refused.text


def test_a_revoked_token_is_not_shown_again(panel, settings):
    app_id, token = _created(panel, "sandbox")
    token_id = _token_id(settings, app_id)
    panel.post_form(f"/developer/applications/{app_id}", f"/developer/applications/{app_id}/tokens/{token_id}/revoke", {})
    refused = _reveal(panel, app_id, token_id, PASSWORD)
    assert refused.status_code == 400 and "revoked" in refused.text and token not in refused.text


def test_the_reveal_form_needs_its_csrf_token(panel, client, settings):
    app_id, token = _created(panel, "sandbox")
    token_id = _token_id(settings, app_id)
    page = client.get(f"/developer/applications/{app_id}/tokens/{token_id}").text
    assert csrf_of(page)
    forged = client.post(f"/developer/applications/{app_id}/tokens/{token_id}/reveal",
                         data={"password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403 and token not in forged.text
