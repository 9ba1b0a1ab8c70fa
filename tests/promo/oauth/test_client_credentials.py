"""The client's credentials at /access-token and /refresh-token (API.md §3.1): every wording of
the seed is taken, for the client the Client-Id header names; any other value is a 401."""

from __future__ import annotations

import base64

import pytest

from tests.support.promo import SANDBOX, authorize, check, code_of, partner_app


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FORMS = {
    "basic": lambda client_id, secret: "Basic " + b64(f"{client_id}:{secret}"),
    "base64 without Basic": lambda client_id, secret: b64(f"{client_id}:{secret}"),
    "basic concatenated": lambda client_id, secret: "Basic " + b64(client_id + secret),
    "concatenated": lambda client_id, secret: b64(client_id + secret),
}


def post(client, path: str, client_id: str, authorization: str, body: dict):
    return client.post(SANDBOX + path, json=body, headers={"Client-Id": client_id, "Authorization": authorization})


@pytest.mark.parametrize("form", FORMS)
def test_each_wording_gets_tokens_at_both_endpoints(client, creds, form):
    authorization = FORMS[form](creds.client_id, creds.client_secret)
    code = code_of(authorize(client, creds))
    issued = post(client, "/access-token", creds.client_id, authorization,
                  {"grant_type": "authorization_code", "code": code})
    assert issued.status_code == 201, issued.text
    check(issued, SANDBOX)
    rotated = post(client, "/refresh-token", creds.client_id, authorization,
                   {"grant_type": "refresh_token", "code": issued.json()["refresh_token"]})
    assert rotated.status_code == 201, rotated.text


@pytest.mark.parametrize("form", FORMS)
def test_wrong_values_of_each_wording_are_401(client, creds, form):
    other = partner_app(client, email="other@example.com")
    encode = FORMS[form]
    wrong = {
        "wrong secret": encode(creds.client_id, creds.client_secret[:-1] + ("A" if creds.client_secret[-1] != "A" else "B")),
        "secret cut short": encode(creds.client_id, creds.client_secret[:-1]),
        "no secret": encode(creds.client_id, ""),
        "another client's own credentials": encode(other.client_id, other.client_secret),
        "the other client's secret": encode(creds.client_id, other.client_secret),
        "base64 broken": encode(creds.client_id, creds.client_secret)[:-2] + "!!",
    }
    for path, body in (("/access-token", {"grant_type": "authorization_code", "code": "x"}),
                       ("/refresh-token", {"grant_type": "refresh_token", "code": "x"})):
        for what, authorization in wrong.items():
            response = post(client, path, creds.client_id, authorization, body)
            assert response.status_code == 401, (path, what, response.text)
            check(response, SANDBOX)
    right = post(client, "/access-token", creds.client_id, encode(creds.client_id, creds.client_secret),
                 {"grant_type": "authorization_code", "code": "x"})
    assert right.status_code == 400  # past the credentials: the code is what is wrong


def test_other_values_are_401_and_say_what_to_send(client, creds):
    body = {"grant_type": "authorization_code", "code": "x"}
    for authorization in ("Bearer " + b64(f"{creds.client_id}:{creds.client_secret}"), "Basic", "Basic ",
                          f"{creds.client_id}:{creds.client_secret}", "Digest abc", b64(creds.client_secret)):
        response = post(client, "/access-token", creds.client_id, authorization, body)
        assert response.status_code == 401, (authorization, response.text)
        assert "Basic base64(client_id:client_secret)" in response.json()
