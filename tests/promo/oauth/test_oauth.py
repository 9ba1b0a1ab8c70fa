"""API.md §3.1 and RFC 9700 for the holder flow, on SQLite and PostgreSQL; every JSON answer
validated against the promotions reference."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.db import db_sql
from tests.support.panel import csrf_of
from tests.support.promo import (
    HOLDER_PASSWORD,
    MARIA,
    PRODUCTION,
    REDIRECT,
    SANDBOX,
    authorize,
    basic,
    check,
    code_of,
    login_params,
    partner_app,
    request_id_of,
    sign_in_to_consent,
    tokens_for,
)

# ---- GET /login ------------------------------------------------------------------------


def test_login_redirects_to_our_login_screen(client, creds):
    response = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)
    assert response.status_code == 301
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert urlsplit(location).path == SANDBOX + "/oauth/login"
    assert query["client_id"] == [creds.client_id] and query["redirect_url"] == [REDIRECT]
    assert MARIA["cpf"] not in location and "39053344705" not in location  # no CPF in URLs
    check(response, SANDBOX)


@pytest.mark.parametrize(
    "overrides,status,fragment",
    [
        ({"client_id": None}, 401, "client_id"),
        ({"client_id": "sbx_unknown"}, 401, "not known"),
        ({"redirect_url": None}, 422, "redirect_url"),
        ({"redirect_url": REDIRECT + "/"}, 400, "not one of the redirect URLs"),
        ({"redirect_url": REDIRECT + "?x=1"}, 400, "not one of the redirect URLs"),
        ({"redirect_url": REDIRECT.upper()}, 400, "not one of the redirect URLs"),
        ({"redirect_url": "https://evil.example.com/callback"}, 400, "not one of the redirect URLs"),
        ({"name": None}, 422, "'name'"),
        ({"cpf": None}, 422, "'cpf'"),
        ({"birthdate": None}, 422, "'birthdate'"),
        ({"email": None}, 422, "'email'"),
        ({"cpf": "390.533.447-06"}, 400, "check digits"),
        ({"cpf": "3905334470"}, 400, "11 digits"),
        ({"cpf": "111.111.111-11"}, 400, "not a valid CPF"),
        ({"birthdate": "17/05/1990"}, 400, "ISO 8601"),
        ({"birthdate": "2020-01-01"}, 400, "at least 10 years"),
        ({"birthdate": "2999-01-01"}, 400, "between 1900 and today"),
        ({"email": "maria-at-example.com"}, 400, "e-mail"),
        ({"code_challenge_method": "plain", "code_challenge": "a" * 43}, 400, "S256"),
        ({"code_challenge_method": "S256"}, 422, "code_challenge"),
        ({"code_challenge": "short"}, 400, "43 to 128"),
    ],
)
def test_login_refusals_never_redirect(client, creds, overrides, status, fragment):
    response = client.get(SANDBOX + "/login", params=login_params(creds, **overrides), follow_redirects=False)
    assert response.status_code == status
    assert "location" not in response.headers
    body = response.json()
    text_ = body["description"] if isinstance(body, dict) else body
    assert fragment in text_
    if status == 422:
        assert body["code"] == "MISSING_PARAMETER"
    check(response, SANDBOX)


def test_e_mail_spelling_is_accepted(client, creds):
    params = login_params(creds, email=None)
    params["e-mail"] = MARIA["email"]
    assert client.get(SANDBOX + "/login", params=params, follow_redirects=False).status_code == 301


def test_environments_are_isolated(client, creds):
    response = client.get(PRODUCTION + "/login", params=login_params(creds), follow_redirects=False)
    assert response.status_code == 403 and "sandbox" in response.json()
    check(response, PRODUCTION)
    tokens = tokens_for(client, creds)
    me = client.get(PRODUCTION + "/me", headers={"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]})
    assert me.status_code == 403
    exchange = client.post(PRODUCTION + "/refresh-token", json={"grant_type": "refresh_token", "code": tokens["refresh_token"]},
                           headers=basic(creds))
    assert exchange.status_code == 403


# ---- login and consent pages -----------------------------------------------------------


def test_new_cpf_gets_a_prefilled_sign_up_form_and_a_known_one_a_password_form(client, creds, settings):
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    page = client.get(location)
    for name in ("password", "password_confirm", "accept_terms", "csrf_token"):
        assert f'name="{name}"' in page.text
    assert MARIA["name"] in page.text and MARIA["email"] in page.text and MARIA["birthdate"] in page.text
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    tokens_for(client, creds)
    (stored,), = db_sql(settings, "SELECT cpf_encrypted FROM holders")
    assert "39053344705" not in stored
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    page = client.get(location)
    assert 'name="password"' in page.text and 'name="password_confirm"' not in page.text


def test_sign_up_refusals(client, creds, settings):
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    page = client.get(location)
    base = {"csrf_token": csrf_of(page.text), "request": request_id_of(page.text)}
    cases = [
        ({"password": HOLDER_PASSWORD, "password_confirm": HOLDER_PASSWORD}, 400, "terms"),
        ({"password": "short", "password_confirm": "short", "accept_terms": "yes"}, 400, "at least 10"),
        ({"password": HOLDER_PASSWORD, "password_confirm": "other password!", "accept_terms": "yes"}, 400, "do not match"),
        ({"password": HOLDER_PASSWORD, "password_confirm": HOLDER_PASSWORD, "accept_terms": "yes", "csrf_token": "x"},
         403, "expired"),
    ]
    for data, status, fragment in cases:
        response = client.post(SANDBOX + "/oauth/login", data={**base, **data}, follow_redirects=False)
        assert response.status_code == status and fragment in response.text
    assert db_sql(settings, "SELECT COUNT(*) FROM holders")[0][0] == 0


def test_wrong_passwords_are_throttled(client, creds):
    tokens_for(client, creds)  # her sign-up (and any sign-in) counts for nothing
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    codes = [sign_in_to_consent(client, SANDBOX, location, password="wrong password")[0].status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]
    refused = sign_in_to_consent(client, SANDBOX, location)[0]  # even the right password, for that minute
    assert refused.status_code == 429 and "Too many attempts" in refused.text


def test_successful_sign_ins_never_count(client, creds, cheap_passwords):
    tokens_for(client, creds)
    for _ in range(8):
        tokens_for(client, creds)
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    codes = [sign_in_to_consent(client, SANDBOX, location, password="wrong password")[0].status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]


def _cpfs(count: int) -> list[str]:
    """``count`` valid CPFs (the one pair of check digits that makes each base valid)."""
    from stdnum.br import cpf

    bases = (str(n) for n in range(123_456_000, 123_456_000 + count))
    return [next(base + f"{d:02d}" for d in range(100) if cpf.is_valid(base + f"{d:02d}")) for base in bases]


def test_wrong_passwords_are_throttled_per_address(client, creds, cheap_passwords):
    """Guesses spread over many CPFs from one address: 30 a minute, then 429 for any."""
    codes = []
    for number in _cpfs(8):
        tokens_for(client, creds, cpf=number)
        location = client.get(SANDBOX + "/login", params=login_params(creds, cpf=number),
                              follow_redirects=False).headers["location"]
        codes += [sign_in_to_consent(client, SANDBOX, location, password="wrong password")[0].status_code
                  for _ in range(4)]
    assert codes == [400] * 30 + [429] * 2


def test_many_holders_sign_up_from_one_address(client, creds, settings, cheap_passwords):
    """Behind a carrier's NAT many holders share one address: 100 accounts a minute from it
    are created (the address's throttle used to count them, and the 31st got 429), then 429."""
    codes = []
    for number in _cpfs(101):
        location = client.get(SANDBOX + "/login", params=login_params(creds, cpf=number),
                              follow_redirects=False).headers["location"]
        codes.append(sign_in_to_consent(client, SANDBOX, location)[0].status_code)
    assert codes == [303] * 100 + [429]
    assert db_sql(settings, "SELECT COUNT(*) FROM holders")[0][0] == 100


def test_deny_returns_access_denied_with_state(client, creds):
    url = authorize(client, creds, decision="deny")
    assert url == f"{REDIRECT}?error=access_denied&state=st-123"


def test_redirect_keeps_the_registered_query(client, settings):
    creds = partner_app(client)
    db_sql(settings, "UPDATE applications SET redirect_urls = '[\"https://app.example.com/cb?tenant=7\"]'")
    url = authorize(client, creds, redirect_url="https://app.example.com/cb?tenant=7")
    assert url.startswith("https://app.example.com/cb?tenant=7&code=") and url.endswith("&state=st-123")


def test_a_login_link_works_once(client, creds):
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    submitted, request_id = sign_in_to_consent(client, SANDBOX, location)
    consent = client.get(submitted.headers["location"])
    data = {"csrf_token": csrf_of(consent.text), "request": request_id, "decision": "allow"}
    assert client.post(SANDBOX + "/oauth/consent", data=data, follow_redirects=False).status_code == 303
    again = client.post(SANDBOX + "/oauth/consent", data=data, follow_redirects=False)
    assert again.status_code == 400 and "location" not in again.headers
    assert client.get(location).status_code == 400


# ---- /access-token and /refresh-token -------------------------------------------------


def test_code_exchange_and_me(client, creds):
    tokens = tokens_for(client, creds)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    me = client.get(SANDBOX + "/me", headers={"client_id": creds.client_id, "access_token": tokens["access_token"]})
    assert me.status_code == 200
    assert me.json() == {"id": 1, "birthdate": "1990-05-17T00:00:00Z", "document": "39053344705",
                         "email": MARIA["email"], "name": MARIA["name"], "devices": []}
    assert me.headers["ratelimit-limit"] == "120"
    check(me, SANDBOX)


def test_a_code_works_once_and_a_replay_revokes_its_tokens(client, creds):
    code = code_of(authorize(client, creds))
    first = client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code", "code": code}, headers=basic(creds))
    assert first.status_code == 201
    check(first, SANDBOX)
    replay = client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code", "code": code}, headers=basic(creds))
    assert replay.status_code == 400 and "already used" in replay.json()
    check(replay, SANDBOX)
    me = client.get(SANDBOX + "/me", headers={"Client-Id": creds.client_id, "Access-Token": first.json()["access_token"]})
    assert me.status_code == 401
    refresh = client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token", "code": first.json()["refresh_token"]},
                          headers=basic(creds))
    assert refresh.status_code == 400


def test_codes_expire_and_are_bound_to_their_client(client, creds, settings):
    other = partner_app(client, email="other@example.com")
    code = code_of(authorize(client, creds))
    stolen = client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code", "code": code}, headers=basic(other))
    assert stolen.status_code == 400
    wrong_redirect = client.post(SANDBOX + "/access-token",
                                 json={"grant_type": "authorization_code", "code": code, "redirect_url": "https://other.example.com/cb"},
                                 headers=basic(creds))
    assert wrong_redirect.status_code == 400
    db_sql(settings, "UPDATE oauth_codes SET expires_at = created_at")
    expired = client.post(SANDBOX + "/access-token", json={"grant_type": "authorization_code", "code": code},
                          headers=basic(creds))
    assert expired.status_code == 400 and "expired" in expired.json()


def test_pkce(client, creds):
    verifier = "v" * 20 + "-._~" + "x" * 30
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = code_of(authorize(client, creds, code_challenge=challenge, code_challenge_method="S256"))
    body = {"grant_type": "authorization_code", "code": code}
    missing = client.post(SANDBOX + "/access-token", json=body, headers=basic(creds))
    assert missing.status_code == 422 and missing.json()["code"] == "MISSING_PARAMETER"
    check(missing, SANDBOX)
    wrong = client.post(SANDBOX + "/access-token", json={**body, "code_verifier": "w" * 50}, headers=basic(creds))
    assert wrong.status_code == 400
    right = client.post(SANDBOX + "/access-token", json={**body, "code_verifier": verifier}, headers=basic(creds))
    assert right.status_code == 201


@pytest.mark.parametrize(
    "headers_fn,body,content_type,status",
    [
        (lambda c: {"Authorization": basic(c)["Authorization"]}, {"grant_type": "authorization_code", "code": "x"}, None, 401),
        (lambda c: {"Client-Id": c.client_id}, {"grant_type": "authorization_code", "code": "x"}, None, 401),
        (lambda c: {**basic(c), "Authorization": "Basic " + base64.b64encode(f"{c.client_id}:wrong".encode()).decode()},
         {"grant_type": "authorization_code", "code": "x"}, None, 401),
        (lambda c: {**basic(c), "Authorization": "Bearer abc"}, {"grant_type": "authorization_code", "code": "x"}, None, 401),
        (lambda c: {**basic(c), "Client-Id": "sbx_other"}, {"grant_type": "authorization_code", "code": "x"}, None, 401),
        (basic, {"code": "x"}, None, 422),
        (basic, {"grant_type": "password", "code": "x"}, None, 400),
        (basic, {"grant_type": "authorization_code"}, None, 422),
        (basic, {"grant_type": "authorization_code", "code": 5}, None, 400),
        (basic, b"not json", "application/json", 400),
        (basic, b"[]", "application/json", 400),
        (basic, b"grant_type=authorization_code", "application/x-www-form-urlencoded", 415),
        (basic, {"grant_type": "authorization_code", "code": "unknown"}, None, 400),
    ],
)
def test_access_token_refusals(client, creds, headers_fn, body, content_type, status):
    headers = headers_fn(creds)
    if isinstance(body, bytes):
        response = client.post(SANDBOX + "/access-token", content=body, headers={**headers, "Content-Type": content_type})
    else:
        response = client.post(SANDBOX + "/access-token", json=body, headers=headers)
    assert response.status_code == status, response.text
    check(response, SANDBOX)


def test_refresh_rotation_and_reuse_detection(client, creds):
    tokens = tokens_for(client, creds)
    body = {"grant_type": "refresh_token", "code": tokens["refresh_token"]}
    rotated = client.post(SANDBOX + "/refresh-token", json=body, headers=basic(creds))
    assert rotated.status_code == 201
    check(rotated, SANDBOX)
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    headers = {"Client-Id": creds.client_id, "Access-Token": new["access_token"]}
    assert client.get(SANDBOX + "/me", headers=headers).status_code == 200
    reuse = client.post(SANDBOX + "/refresh-token", json=body, headers=basic(creds))
    assert reuse.status_code == 400 and "whole grant" in reuse.json()
    assert client.get(SANDBOX + "/me", headers=headers).status_code == 401
    again = client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token", "code": new["refresh_token"]},
                        headers=basic(creds))
    assert again.status_code == 400
    wrong_kind = client.post(SANDBOX + "/refresh-token", json={"grant_type": "refresh_token", "code": tokens["access_token"]},
                             headers=basic(creds))
    assert wrong_kind.status_code == 400


# ---- /me: the access layer --------------------------------------------------------------


def test_me_credential_checks(client, creds, settings):
    tokens = tokens_for(client, creds)
    other = partner_app(client, email="other@example.com")
    cases = [
        ({"Access-Token": tokens["access_token"]}, 401),
        ({"Client-Id": creds.client_id}, 401),
        ({"Client-Id": creds.client_id, "Access-Token": "chold_garbage"}, 401),
        ({"Client-Id": creds.client_id, "Access-Token": tokens["refresh_token"]}, 401),
        ({"Client-Id": creds.client_id, "Access-Token": creds.access_token}, 401),  # an application token
        ({"Client-Id": other.client_id, "Access-Token": tokens["access_token"]}, 403),
        ({"Client-Id": "sbx_nobody", "Access-Token": tokens["access_token"]}, 401),
    ]
    for headers, status in cases:
        response = client.get(SANDBOX + "/me", headers=headers)
        assert response.status_code == status, headers
        assert isinstance(response.json(), str)
        check(response, SANDBOX)
    db_sql(settings, "UPDATE holder_tokens SET expires_at = created_at WHERE kind = 'access'")
    expired = client.get(SANDBOX + "/me", headers={"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]})
    assert expired.status_code == 401 and "expired" in expired.json()


def test_holder_rate_limit(client, creds, settings):
    db_sql(settings, "UPDATE applications SET holder_requests_per_minute = 3")
    tokens = tokens_for(client, creds)
    headers = {"Client-Id": creds.client_id, "Access-Token": tokens["access_token"]}
    answers = [client.get(SANDBOX + "/me", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "3" and limited.headers["ratelimit-remaining"] == "0"
    assert "3 requests per minute" in limited.json()
    check(limited, SANDBOX)


def test_token_endpoints_are_limited_per_client(client, creds, settings):
    """Both token endpoints count against the application's holder profile (API.md §2): 429
    with Retry-After and RateLimit-* past it, and every answer tells what is left."""
    tokens = tokens_for(client, creds)  # its /access-token is the minute's first call
    db_sql(settings, "UPDATE applications SET holder_requests_per_minute = 3")
    refresh = {"grant_type": "refresh_token", "code": tokens["refresh_token"]}
    second = client.post(SANDBOX + "/refresh-token", json=refresh, headers=basic(creds))
    assert second.status_code == 201
    assert second.headers["ratelimit-limit"] == "3" and second.headers["ratelimit-remaining"] == "1"
    answers = [client.post(SANDBOX + path, json={"grant_type": grant, "code": "spent"}, headers=basic(creds))
               for path, grant in (("/access-token", "authorization_code"), ("/refresh-token", "refresh_token"))]
    assert [a.status_code for a in answers] == [400, 429]
    limited = answers[-1]
    assert int(limited.headers["retry-after"]) >= 1 and limited.headers["ratelimit-remaining"] == "0"
    assert "3 requests per minute" in limited.json()
    check(limited, SANDBOX)


def test_wrong_client_credentials_do_not_use_up_the_clients_minute(client, creds, settings):
    """Calls naming a client with a wrong secret are limited per client and address, apart
    from the client's own: whoever knows a Client-Id (it travels in browsers' addresses) gets
    429 without keeping the application from its tokens."""
    tokens = tokens_for(client, creds)
    db_sql(settings, "UPDATE applications SET holder_requests_per_minute = 3")
    wrong = {**basic(creds), "Authorization": "Basic " + base64.b64encode(f"{creds.client_id}:nope".encode()).decode()}
    refresh = {"grant_type": "refresh_token", "code": tokens["refresh_token"]}
    codes = [client.post(SANDBOX + "/refresh-token", json=refresh, headers=wrong).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert client.post(SANDBOX + "/refresh-token", json=refresh, headers=basic(creds)).status_code == 201


def test_unknown_routes_and_methods_keep_the_promo_shape(client):
    missing = client.get(SANDBOX + "/nowhere")
    assert missing.status_code == 404 and isinstance(missing.json(), str)
    wrong = client.put(SANDBOX + "/me")
    assert wrong.status_code == 405 and isinstance(wrong.json(), str) and "GET" in wrong.headers["allow"]


def test_bodies_over_the_cap_keep_the_promo_shape(client, creds):
    response = client.post(SANDBOX + "/access-token", content=b'{"code": "' + b"x" * 70_000 + b'"}',
                           headers={**basic(creds), "Content-Type": "application/json"})
    assert response.status_code == 413 and isinstance(response.json(), str)
    check(response, SANDBOX)


def test_openapi_describes_the_promo_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for base in (SANDBOX, PRODUCTION):
        for path, method in [("/login", "get"), ("/cards", "get"), ("/access-token", "post"), ("/refresh-token", "post"),
                             ("/me", "get"), ("/me/cards", "get"), ("/me/cards/{card_id}", "get")]:
            assert method in paths[base + path], base + path
