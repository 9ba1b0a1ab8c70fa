"""/me complete (API.md §3.2): the sign-up form's optional gender and phone, and the phones a
holder signs up or in from, recognised again by their device cookie."""

from __future__ import annotations

import pytest

from cielo.promo.holders.devices import DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE
from tests.support.db import db_sql
from tests.support.panel import csrf_of
from tests.support.promo import (
    HOLDER_PASSWORD,
    SANDBOX,
    basic,
    check,
    code_of,
    login_params,
    request_id_of,
)

ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
           "Mobile Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1")
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


def submit_login(client, creds, user_agent: str = DESKTOP, **fields):
    """/login → the sign-up (or sign-in) form, posted with ``fields`` from a browser saying
    ``user_agent``; returns the form's answer."""
    client.headers["User-Agent"] = user_agent
    started = client.get(SANDBOX + "/login", params=login_params(creds), follow_redirects=False)
    assert started.status_code == 301, started.text
    page = client.get(started.headers["location"])
    data = {"csrf_token": csrf_of(page.text), "request": request_id_of(page.text), "password": HOLDER_PASSWORD}
    if 'name="password_confirm"' in page.text:
        data.update(password_confirm=HOLDER_PASSWORD, accept_terms="yes")
    return client.post(SANDBOX + "/oauth/login", data={**data, **fields}, follow_redirects=False)


def me_after(client, creds, submitted) -> dict:
    """Consent, the code exchanged, then /me (checked against the reference document)."""
    assert submitted.status_code == 303, submitted.text
    consent = client.get(submitted.headers["location"])
    allowed = client.post(SANDBOX + "/oauth/consent", follow_redirects=False, data={
        "csrf_token": csrf_of(consent.text), "request": request_id_of(consent.text), "decision": "allow"})
    pair = client.post(SANDBOX + "/access-token", headers=basic(creds),
                       json={"grant_type": "authorization_code", "code": code_of(allowed.headers["location"])})
    assert pair.status_code == 201, pair.text
    me = client.get(SANDBOX + "/me", headers={"Client-Id": creds.client_id, "Access-Token": pair.json()["access_token"]})
    assert me.status_code == 200, me.text
    check(me, SANDBOX)
    return me.json()


def device_cookie(response) -> str | None:
    return next((c for c in response.headers.get_list("set-cookie") if c.startswith(DEVICE_COOKIE + "=")), None)


def test_sign_up_takes_gender_and_phone(client, creds):
    me = me_after(client, creds, submit_login(client, creds, gender="FEMALE", phone="(11) 98765-4321"))
    assert me["gender"] == "FEMALE" and me["phone"] == {"areaCode": 11, "phoneNumber": 987654321}
    assert me["devices"] == []


def test_a_landline_and_other_spellings_are_read_too(client, creds):
    me = me_after(client, creds, submit_login(client, creds, gender="male", phone="+55 61 3333-4444"))
    assert me["gender"] == "MALE" and me["phone"] == {"areaCode": 61, "phoneNumber": 33334444}


def test_gender_and_phone_are_optional(client, creds):
    me = me_after(client, creds, submit_login(client, creds, gender="", phone=""))
    assert "gender" not in me and "phone" not in me and me["devices"] == []


@pytest.mark.parametrize("fields,message", [
    ({"phone": "(20) 98765-4321"}, "Brazilian phone number"),  # no area code 20
    ({"phone": "(11) 8765-4321"}, "Brazilian phone number"),  # 8 digits beginning with 8: neither kind
    ({"phone": "(11) 98765-432"}, "Brazilian phone number"),
    ({"phone": "+1 202 555 0100"}, "Brazilian phone number"),
    ({"phone": "0800 123 4567"}, "Brazilian phone number"),  # toll-free: no area code
    ({"phone": "(11) 9876A-4321"}, "Brazilian phone number"),
    ({"phone": "9" * 40}, "Brazilian phone number"),
    ({"gender": "OTHER"}, "FEMALE or MALE"),
])
def test_a_bad_gender_or_phone_is_shown_and_creates_nothing(client, creds, settings, fields, message):
    answer = submit_login(client, creds, **fields)
    assert answer.status_code == 400 and message in answer.text
    assert 'name="password_confirm"' in answer.text  # the sign-up form again
    if "phone" in fields and len(fields["phone"]) <= 25:
        assert f'value="{fields["phone"]}"' in answer.text  # what was typed, kept
    assert db_sql(settings, "SELECT COUNT(*) FROM holders")[0][0] == 0


@pytest.mark.parametrize("user_agent,kind", [(ANDROID, "ANDROID"), (IPHONE, "IOS"), (IPAD, "IOS")])
def test_a_phone_is_recorded_once_and_recognised_by_its_cookie(client, creds, settings, user_agent, kind):
    signed_up = submit_login(client, creds, user_agent)
    cookie = device_cookie(signed_up)
    assert cookie is not None
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= attributes and "secure" not in attributes  # http: not Secure
    assert f"Max-Age={DEVICE_COOKIE_MAX_AGE}" in cookie and "SameSite=lax" in cookie
    assert "Path=/sandbox/promotions/v1/oauth" in cookie
    first = me_after(client, creds, signed_up)
    assert [d["type"] for d in first["devices"]] == [kind]
    # Signing in again from the same phone: the same device, its cookie renewed.
    again = submit_login(client, creds, user_agent)
    assert device_cookie(again) is not None
    assert me_after(client, creds, again)["devices"] == first["devices"]
    # Another phone (a browser without the cookie): a second device.
    client.cookies.delete(DEVICE_COOKIE)
    second = me_after(client, creds, submit_login(client, creds, ANDROID))
    assert second["devices"][0] == first["devices"][0] and len(second["devices"]) == 2
    assert second["devices"][1]["type"] == "ANDROID"
    (stored,), = db_sql(settings, "SELECT COUNT(*) FROM holder_devices")
    assert stored == 2
    token = cookie.split(";")[0].split("=", 1)[1]
    assert all(token.encode() not in bytes(d) for (d,) in db_sql(settings, "SELECT cookie_digest FROM holder_devices"))


def test_a_desktop_browser_records_no_device_and_gets_no_cookie(client, creds, settings):
    signed_up = submit_login(client, creds, DESKTOP)
    assert device_cookie(signed_up) is None
    assert me_after(client, creds, signed_up)["devices"] == []
    assert db_sql(settings, "SELECT COUNT(*) FROM holder_devices")[0][0] == 0


def test_a_new_device_is_in_me_at_once_despite_its_cache(client, creds):
    """/me is cached exactly (cielo.cache): the sign-in that records a device must refresh it."""
    desktop = me_after(client, creds, submit_login(client, creds, DESKTOP))
    assert desktop["devices"] == []
    phone = me_after(client, creds, submit_login(client, creds, IPHONE))
    assert [d["type"] for d in phone["devices"]] == ["IOS"]


def test_the_device_cookie_is_secure_over_https(client, creds):
    client.base_url = "https://testserver"
    cookie = device_cookie(submit_login(client, creds, ANDROID))
    assert cookie is not None and "Secure" in cookie and "HttpOnly" in cookie
