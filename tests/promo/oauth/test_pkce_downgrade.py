"""RFC 9700 §4.8.2 (API.md §3.1): a `code_verifier` presented for a code whose /login carried
no `code_challenge` is refused, so an attacker cannot pass a stolen code off as a PKCE one."""

from __future__ import annotations

import pytest

from tests.support.promo import SANDBOX, authorize, basic, check, code_of


@pytest.mark.parametrize("verifier, says", [("v" * 43, "code_challenge"), ("", "empty")])  # "": present, and invalid
def test_a_verifier_for_a_code_issued_without_a_challenge_is_refused(client, creds, verifier, says):
    code = code_of(authorize(client, creds))
    body = {"grant_type": "authorization_code", "code": code}
    refused = client.post(SANDBOX + "/access-token", json={**body, "code_verifier": verifier}, headers=basic(creds))
    assert refused.status_code == 400 and says in refused.json()
    check(refused, SANDBOX)
    # the refusal does not spend the code: the client that never used PKCE still gets its tokens
    plain = client.post(SANDBOX + "/access-token", json=body, headers=basic(creds))
    assert plain.status_code == 201, plain.text
