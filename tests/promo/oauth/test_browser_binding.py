"""API.md §3.1: a holder's sign-in is one browser's. Every step after /login (the sign-in or
sign-up page, its form, the consent page, its form) checks the cookie /login set; another
browser holding only a step's address, with a CSRF token of its own, gets an error page: never
the form, the holder's data, or a redirect with a code."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

from tests.support.db import db_sql
from tests.support.panel import csrf_of
from tests.support.promo import (
    HOLDER_PASSWORD,
    MARIA,
    REDIRECT,
    SANDBOX,
    another_browser,
    authorize,
    code_of,
    login_params,
    request_id_of,
    sign_in_to_consent,
)


@pytest.fixture
def other(app, client):
    """A second browser: its own cookies, and a CSRF token of its own from any of our pages."""
    browser = another_browser(app, client)
    browser.csrf = csrf_of(browser.get("/developer/sign-in").text)  # type: ignore[attr-defined]
    return browser


def _refused(response) -> None:
    assert response.status_code == 403, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "started in another browser" in response.text
    assert MARIA["email"] not in response.text and MARIA["name"] not in response.text
    assert 'name="password"' not in response.text and 'value="allow"' not in response.text


def test_every_step_refuses_another_browser(client, creds, settings, other):
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    request_id = parse_qs(urlsplit(location).query)["request"][0]

    _refused(other.get(location))  # the sign-up page, with Maria's name and e-mail
    sign_up = {"csrf_token": other.csrf, "request": request_id, "password": "another password",
               "password_confirm": "another password", "accept_terms": "yes"}
    _refused(other.post(SANDBOX + "/oauth/login", data=sign_up, follow_redirects=False))
    assert db_sql(settings, "SELECT count(*) FROM holders") == [(0,)]  # no account made by the other browser

    submitted, _ = sign_in_to_consent(client, SANDBOX, location)
    assert submitted.status_code == 303
    consent = submitted.headers["location"]
    _refused(other.get(consent))
    allow = {"csrf_token": other.csrf, "request": request_id, "decision": "allow"}
    _refused(other.post(SANDBOX + "/oauth/consent", data=allow, follow_redirects=False))
    _refused(other.post(SANDBOX + "/oauth/consent", data={**allow, "decision": "deny"}, follow_redirects=False))
    assert db_sql(settings, "SELECT count(*) FROM oauth_codes") == [(0,)]

    # the holder's own browser goes on undisturbed
    page = client.get(consent)
    final = client.post(SANDBOX + "/oauth/consent", data={"csrf_token": csrf_of(page.text), "request": request_id,
                                                           "decision": "allow"}, follow_redirects=False)
    assert final.status_code == 303 and final.headers["location"].startswith(REDIRECT + "?code=")


def test_a_known_holder_password_form_refuses_another_browser(client, creds, other):
    authorize(client, creds)  # Maria has an account now
    location = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False).headers["location"]
    request_id = parse_qs(urlsplit(location).query)["request"][0]
    guess = {"csrf_token": other.csrf, "request": request_id, "password": HOLDER_PASSWORD}
    _refused(other.post(SANDBOX + "/oauth/login", data=guess, follow_redirects=False))


def test_the_cookie_is_the_flow_s_own_and_cannot_be_forged(client, creds, other):
    login = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)
    cookie = login.headers["set-cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/sandbox/promotions/v1/oauth/", "max-age=900"} <= attributes
    request_id = parse_qs(urlsplit(login.headers["location"]).query)["request"][0]
    assert name.startswith("cielo_flow_") and request_id not in value

    # the other browser's own sign-in cookie, or a made-up value, under this flow's name: refused
    own = other.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)
    own_value = own.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    for forged in (own_value, "0" * len(value), ""):
        _refused(other.get(login.headers["location"], headers={"Cookie": f"{name}={forged}"}))
    assert client.get(login.headers["location"]).status_code == 200


def test_two_sign_ins_at_once_in_one_browser(client, creds):
    first = client.get(SANDBOX + "/login", params=login_params(creds, state="one"), follow_redirects=False)
    second = client.get(SANDBOX + "/login", params=login_params(creds, state="two"), follow_redirects=False)
    urls = []
    for login in (second, first):
        submitted, request_id = sign_in_to_consent(client, SANDBOX, login.headers["location"])
        page = client.get(submitted.headers["location"])
        assert request_id_of(page.text) == request_id
        final = client.post(SANDBOX + "/oauth/consent", data={"csrf_token": csrf_of(page.text),
                                                               "request": request_id, "decision": "allow"},
                            follow_redirects=False)
        assert final.status_code == 303
        urls.append(final.headers["location"])
    assert [parse_qs(urlsplit(url).query)["state"] for url in urls] == [["two"], ["one"]]
    assert all(code_of(url) for url in urls)


def test_strange_cookies_and_csrf_fields_are_refused_not_a_500(client, creds):
    login = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)
    name = login.headers["set-cookie"].split("=", 1)[0]
    request_id = parse_qs(urlsplit(login.headers["location"]).query)["request"][0]
    page = client.get(login.headers["location"])
    assert page.status_code == 200
    for value in ("é" * 64, "\u00ff"):  # a browser may send any Latin-1 text in a cookie
        forged = client.get(login.headers["location"], headers={"Cookie": f"{name}={value}".encode("latin-1")})
        assert forged.status_code == 403, forged.text
    form = {"request": request_id, "password": HOLDER_PASSWORD, "password_confirm": HOLDER_PASSWORD,
            "accept_terms": "yes"}
    for token in ("é" * 64, "%FF%FE", "%ED%B3%BF"):  # (the last two: bytes that are no UTF-8)
        body = urlencode(form) + "&csrf_token=" + (token if token.startswith("%") else quote(token))
        refused = client.post(SANDBOX + "/oauth/login", content=body, follow_redirects=False,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert refused.status_code == 403 and "form has expired" in refused.text, refused.text
    as_a_file = client.post(SANDBOX + "/oauth/login", data=form, files={"csrf_token": ("t.txt", b"x")},
                            follow_redirects=False)
    assert as_a_file.status_code == 403 and "form has expired" in as_a_file.text
